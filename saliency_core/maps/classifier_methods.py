"""Type-1 maps of image classifiers: CAMs (with the top-5 predictions of the same pass) and
Captum's gradient maps, in one registry of methods with their costs (:data:`METHOD_COSTS`).

Targets (what is explained) act on the logits (pre-softmax), as pytorch-grad-cam's
``ClassifierOutputTarget`` does: the top-1 class (default), a chosen class index, or the top-k
classes. Top-k explains the SUM of the k logits in one backward pass; for the methods linear in
the gradient (GradCAM, HiResCAM, XGradCAM) this equals the sum of the k per-class maps before
the final ReLU; the mean of the k logits gives the same map after the [0, 1] scaling.

Every map is returned as float32 (H, W) in [0, 1] at the image's size (bilinear resize of the
input-size map, then min-max scaling), with the top-5 predictions (softmax probabilities) of the
forward pass that produced it. Gradient CAMs stop their backward at the target layer
(:mod:`saliency_core.maps.fast_backward`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from pytorch_grad_cam import AblationCAM, FullGrad

from saliency_core.data.images import resize_map
from saliency_core.maps.cams import CAM_METHODS, CamEntry
from saliency_core.maps.gradient_saliency import GRADIENT_METHODS, attribute_map
from saliency_core.models.classifiers import ClassifierSpec, LoadedClassifier, to_classifier_tensor

TOP_PREDICTIONS = 5


class ClassSetTarget:
    """pytorch-grad-cam target: Σ logits of ``classes``, or of the ``top_k`` classes of the
    first output it sees (:meth:`prime`; :attr:`chosen` records them). Once chosen, the classes
    stay fixed: ScoreCAM and AblationCAM apply the target to perturbed inputs' outputs too."""

    def __init__(self, classes: Sequence[int] | None = None, top_k: int = 1) -> None:
        if classes is None and top_k < 1:
            raise ValueError(f"top_k must be at least 1, not {top_k}.")
        self.top_k = top_k
        self.chosen: list[int] = [] if classes is None else [int(k) for k in classes]

    def prime(self, logits: torch.Tensor) -> None:
        """Choose the top-k classes of ``logits`` (one output row) unless already chosen."""
        if not self.chosen:
            k = min(self.top_k, logits.shape[-1])
            self.chosen = logits.detach().flatten().topk(k).indices.tolist()

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        self.prime(output)
        return output[..., self.chosen].sum(dim=-1)


@dataclass(frozen=True)
class Prediction:
    """One predicted class: its index, its name and its softmax probability."""

    index: int
    name: str
    probability: float


def top_predictions(
    logits: torch.Tensor, categories: list[str], k: int = TOP_PREDICTIONS
) -> list[Prediction]:
    """The k most probable classes of one logit vector, p = softmax(logits), sorted (ranked on
    the logits, as :class:`ClassSetTarget` ranks them, so ties break the same way)."""
    logits = logits.detach().float().flatten()
    indices = logits.topk(min(k, logits.numel())).indices
    values = torch.softmax(logits, dim=0)[indices]
    return [
        Prediction(int(i), categories[int(i)], float(p))
        for p, i in zip(values.tolist(), indices.tolist(), strict=True)
    ]


@dataclass(frozen=True)
class ClassifierCamMethod(CamEntry):
    """A pytorch-grad-cam method as applied to classifiers: which architectures it suits."""

    def unsupported(self, spec: ClassifierSpec) -> str | None:
        """Why this method cannot run on ``spec``, or None when it can."""
        if self.cam_class is FullGrad and spec.is_transformer:
            return (
                "FullGrad (pytorch-grad-cam 1.5.7) sums the bias gradients of Conv2d and "
                f"BatchNorm2d layers only; {spec.name}'s biases sit in Linear and LayerNorm "
                "layers, so the map would reduce to input × gradient plus the patch embedding."
            )
        return None


CLASSIFIER_CAM_METHODS: dict[str, ClassifierCamMethod] = {
    method.name: method
    for method in (
        *(ClassifierCamMethod(**entry.shared()) for entry in CAM_METHODS.values()),
        ClassifierCamMethod(
            "FullGrad",
            FullGrad,
            True,
            "1 forward + 1 full backward (input and every bias layer)",
            2.0,
            "Input × gradient plus bias × gradient of every Conv2d/BatchNorm2d layer "
            "(Srinivas & Fleuret, 2019); ignores the target layer.",
        ),
    )
}


@dataclass
class ClassifierResult:
    """A classifier's type-1 map (float32 (H, W) in [0, 1]) with the top-5 of the same pass and
    the classes it explains, from :func:`explain` to the pipeline."""

    saliency: np.ndarray
    predictions: list[Prediction]
    explained: list[int]
    target: str
    """Where the map was taken: the CAM's target layer, "all bias layers", "input pixels"."""
    trained: bool
    notes: list[str] = field(default_factory=list)


def scale_to_image(values: np.ndarray, shape: tuple[int, int], method: str) -> tuple:
    """Resize a 2-D map to ``shape`` (bilinear) and min-max scale it to [0, 1]; a constant map
    becomes zeros with a note. Returns (map, notes)."""
    heat = resize_map(np.nan_to_num(values).astype(np.float32), shape)
    spread = float(heat.max() - heat.min())
    if spread > 1e-12:
        return (heat - heat.min()) / spread, []
    return np.zeros(shape, np.float32), [f"{method} returned a constant map (no signal)."]


def _check_class(classifier: LoadedClassifier, target_class: int | None) -> None:
    if target_class is not None and not 0 <= target_class < len(classifier.categories):
        raise ValueError(
            f"Class index {target_class} is outside 0..{len(classifier.categories) - 1}."
        )


def explain_with_cam(
    classifier: LoadedClassifier,
    rgb: np.ndarray,
    method: str = "GradCAM",
    target_class: int | None = None,
    top_k: int = 1,
    layer: str | None = None,
    fast: bool = True,
) -> ClassifierResult:
    """One CAM of ``rgb`` (uint8 H×W×3) for the top-1 class, ``target_class`` or the ``top_k``
    classes, and the top-5 predictions of the same forward pass.

    Not thread-safe (hooks live on the model): hold the model's lock around this call.
    """
    try:
        entry = CLASSIFIER_CAM_METHODS[method]
    except KeyError:
        known = ", ".join(CLASSIFIER_CAM_METHODS)
        raise KeyError(f"Unknown CAM method {method!r}; known: {known}") from None
    spec = classifier.spec
    if reason := entry.unsupported(spec):
        raise ValueError(reason)
    layer = layer or spec.default_target
    target_layer = spec.targets[layer]
    kwargs = dict(entry.kwargs)
    if entry.cam_class is AblationCAM:
        kwargs["ablation_layer"] = spec.ablation_layer()
    layers = [] if entry.cam_class is FullGrad else [target_layer.resolve(classifier.model)]
    if entry.cam_class is not FullGrad:
        kwargs["reshape_transform"] = target_layer.reshape_transform
    _check_class(classifier, target_class)
    target = ClassSetTarget(None if target_class is None else [target_class], top_k)
    tensor = to_classifier_tensor(rgb, classifier)
    grad_mode = torch.enable_grad() if entry.uses_gradients else torch.no_grad()
    # the model's first call is the unperturbed forward: the top-k classes come from it
    prime = classifier.model.register_forward_hook(
        lambda module, args, output: target.prime(output[0])
    )
    try:
        with grad_mode, entry.runner(fast)(classifier.model, layers, **kwargs) as cam:
            grayscale = cam(tensor, targets=[target])
            logits = cam.outputs[0].detach()
    finally:
        prime.remove()
    if (entry.uses_gradients and not fast) or entry.cam_class is FullGrad:
        classifier.model.zero_grad(set_to_none=True)
    heat, notes = scale_to_image(grayscale[0], rgb.shape[:2], method)
    where = "all bias layers" if entry.cam_class is FullGrad else layer
    predictions = top_predictions(logits, classifier.categories)
    return ClassifierResult(
        heat, predictions, list(target.chosen), where, classifier.trained, notes
    )


def explain_with_gradients(
    classifier: LoadedClassifier,
    rgb: np.ndarray,
    method: str = "Gradient",
    target_class: int | None = None,
    top_k: int = 1,
) -> ClassifierResult:
    """A Captum gradient map (:mod:`saliency_core.maps.gradient_saliency`) of ``rgb`` for the top-1
    class, ``target_class`` or the ``top_k`` classes. Captum runs its own passes, so the top-5
    (and the top-k classes) come from one extra no-grad forward, counted in the method's cost.
    Integrated Gradients starts from a black image."""
    entry = GRADIENT_METHODS[method]
    spec = classifier.spec
    if reason := entry.unsupported(spec.relu_network, spec.name):
        raise ValueError(reason)
    _check_class(classifier, target_class)
    tensor = to_classifier_tensor(rgb, classifier)
    with torch.no_grad():
        logits = classifier.model(tensor)[0]
    target = ClassSetTarget(None if target_class is None else [target_class], top_k)
    target.prime(logits)
    black = to_classifier_tensor(np.zeros_like(rgb), classifier)
    raw = attribute_map(method, classifier.model, tensor, target.chosen, baseline=black)
    heat, notes = scale_to_image(raw, rgb.shape[:2], method)
    predictions = top_predictions(logits, classifier.categories)
    return ClassifierResult(
        heat, predictions, list(target.chosen), "input pixels", classifier.trained, notes
    )


METHOD_COSTS: dict[str, str] = {
    **{name: entry.cost for name, entry in CLASSIFIER_CAM_METHODS.items()},
    **{
        name: f"{entry.cost} (+1 forward for the top-5)" for name, entry in GRADIENT_METHODS.items()
    },
}
"""Every classifier method (CAMs, then Captum's gradient maps) and its cost in passes."""

METHOD_FORWARDS: dict[str, float | None] = {
    **{name: entry.forwards for name, entry in CLASSIFIER_CAM_METHODS.items()},
    **{name: entry.forwards + 1 for name, entry in GRADIENT_METHODS.items()},
}
""":data:`METHOD_COSTS` in forward passes of the classifier (a backward ≈ one forward), what the
ETAs scale a timed step by; None where it depends on the layer (AblationCAM, ScoreCAM)."""


def method_unsupported(method: str, spec: ClassifierSpec) -> str | None:
    """Why ``method`` (a CAM or a gradient map) cannot run on ``spec``, or None when it can."""
    if method in GRADIENT_METHODS:
        return GRADIENT_METHODS[method].unsupported(spec.relu_network, spec.name)
    return CLASSIFIER_CAM_METHODS[method].unsupported(spec)


def explain(
    classifier: LoadedClassifier,
    rgb: np.ndarray,
    method: str = "GradCAM",
    target_class: int | None = None,
    top_k: int = 1,
    layer: str | None = None,
) -> ClassifierResult:
    """Any classifier type-1 map by name (see :data:`METHOD_COSTS`), with the top-5."""
    if method in GRADIENT_METHODS:
        return explain_with_gradients(classifier, rgb, method, target_class, top_k)
    return explain_with_cam(classifier, rgb, method, target_class, top_k, layer)
