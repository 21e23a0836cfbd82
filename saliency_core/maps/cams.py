"""CAM methods for detectors: a registry over pytorch-grad-cam, detections and CAM in one pass.

pytorch-grad-cam runs the model once inside ``BaseCAM.forward`` (hooks capture the target
layer's activations) and keeps that forward's outputs in ``cam.outputs``: the detections shown
next to a CAM are read from there, so detections and CAM come from ONE forward pass. Gradient
methods then back-propagate from the same outputs, down to the target layer only
(:mod:`saliency_core.maps.fast_backward`: no parameter gradients, no backward below the target
layer, results equal to the library's own); gradient-free methods run under no-grad.

Two small subclasses replace the library's EigenCAM projection, which runs a full SVD of the
(h·w × C) activation matrix (an (h·w)² matrix: >10 GB on an FPN level) and leaves the sign of
the component arbitrary (pytorch-grad-cam issue #315): see :func:`principal_projection`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import torch
from pytorch_grad_cam import (
    AblationCAM,
    EigenCAM,
    EigenGradCAM,
    GradCAM,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
)
from pytorch_grad_cam.ablation_layer import AblationLayer
from pytorch_grad_cam.base_cam import BaseCAM
from torchvision.ops import box_iou

from saliency_core.maps.fast_backward import stop_at_target
from saliency_core.models.detectors import (
    DetectorSpec,
    LoadedDetector,
    TargetLayer,
    to_input_tensor,
)
from saliency_core.study import SCORE_THRESHOLD

MAX_PROJECTION_ROWS = 4096
"""The principal axis is estimated on at most this many pixels (a regular subsample)."""


def first_principal_axis(
    rows: torch.Tensor, iterations: int = 500, tolerance: float = 1e-6
) -> torch.Tensor:
    """Unit first right singular vector v of a centred (m, C) matrix R, by power iteration.

    Iterates on the smaller Gram matrix: m ≤ C: u ← R Rᵀ u / ‖·‖, then v = Rᵀu / ‖Rᵀu‖;
    else v ← RᵀR v / ‖·‖ (seeded start; stops when a step moves less than ``tolerance``; the
    error shrinks as (λ₂/λ₁)ᵏ). Costs one (min(m, C))² · max(m, C) product plus matrix–vector
    products: no full SVD (the library's builds an m×m matrix of left vectors) and no LAPACK
    eigensolver, whose speed varies wildly with BLAS threading on a loaded CPU. Runs in torch,
    on the activations' device, so it shares the model's thread pool.
    """
    m, channels = rows.shape
    wide = m <= channels
    gram = (rows @ rows.T if wide else rows.T @ rows).double()
    generator = torch.Generator(device="cpu").manual_seed(0)
    vector = torch.randn(gram.shape[0], generator=generator, dtype=torch.float64).to(gram.device)
    vector /= torch.linalg.vector_norm(vector)
    for _ in range(iterations):
        step = gram @ vector
        norm = torch.linalg.vector_norm(step)
        if norm == 0:
            return torch.zeros(channels, dtype=rows.dtype, device=rows.device)
        step /= norm
        converged = torch.linalg.vector_norm(step - vector) < tolerance
        vector = step
        if converged:
            break
    axis = rows.T.double() @ vector if wide else vector
    return (axis / torch.linalg.vector_norm(axis)).to(rows.dtype)


def principal_projection(
    activations: np.ndarray | torch.Tensor, max_rows: int = MAX_PROJECTION_ROWS
) -> np.ndarray:
    """Project activations on their first principal component, with a fixed sign.

    For each item, A is the (n = h·w, C) matrix of activations, Ā = A − mean over pixels, and
    v its first principal axis (:func:`first_principal_axis`, estimated on ≤ ``max_rows``
    regularly spaced pixels). The map is p = Ā v, oriented so that corr(p, mean_c A) ≥ 0:
    pixels with a high mean activation come out high. Returns float32 (B, h, w).
    """
    batch = torch.nan_to_num(torch.as_tensor(activations, dtype=torch.float32))
    projections = []
    for item in batch:
        matrix = item.reshape(item.shape[0], -1).T.contiguous()
        centred = matrix - matrix.mean(dim=0)
        step = max(1, -(-centred.shape[0] // max_rows))
        projection = centred @ first_principal_axis(centred[::step])
        mean_activation = matrix.mean(dim=1)
        agreement = float(projection @ (mean_activation - mean_activation.mean()))
        if agreement < 0 or (agreement == 0 and -projection.min() > projection.max()):
            projection = -projection
        projections.append(projection.reshape(item.shape[1:]).cpu().numpy())
    return np.asarray(projections, dtype=np.float32)


class OrientedEigenCAM(EigenCAM):
    """EigenCAM (Muhammad & Yeasin, 2020) with :func:`principal_projection`."""

    def get_cam_image(self, input_tensor, target_layer, targets, activations, grads, eigen_smooth):
        return principal_projection(activations)


class OrientedEigenGradCAM(EigenGradCAM):
    """EigenGradCAM: the principal component of gradients × activations, sign fixed."""

    def get_cam_image(self, input_tensor, target_layer, targets, activations, grads, eigen_smooth):
        return principal_projection(grads * activations)


@dataclass(frozen=True)
class ExplainedDetections:
    """Which detections a class-discriminative CAM explains (gradient and perturbation methods).

    Default: every detection with score ≥ the threshold (the top-scoring one when none is).
    ``detection=k``: the k-th detection by decreasing score (0 = the best), whatever its score.
    ``category=name``: the detections of that class with score ≥ the threshold (its best one
    when none is).
    """

    detection: int | None = None
    category: str | None = None

    def __post_init__(self) -> None:
        if self.detection is not None and self.category is not None:
            raise ValueError("Explain one detection or one class, not both.")

    def describe(self, threshold: float) -> str:
        if self.detection is not None:
            return f"detection #{self.detection + 1} by score"
        if self.category is not None:
            return f"class '{self.category}' (score ≥ {threshold:.2f})"
        return f"all detections with score ≥ {threshold:.2f}"


MATCH_IOU = 0.5
"""A perturbed pass's detection stands for the explained one when IoU ≥ this (same label)."""


class DetectionScoreTarget:
    """Target for detectors: Σ scores of the explained detections (:class:`ExplainedDetections`).

    pytorch-grad-cam's ``FasterRCNNBoxScoreTarget`` sums IoU + score over detections matched to
    given boxes; matching the detections of the same forward pass to themselves makes every
    IoU 1, so its gradient is that of this sum. Without a detection ≥ the threshold, the
    top-scoring one is the target (and :attr:`note` says so).

    The choice is made on the first output seen — the unperturbed forward's, when the target
    is registered as a forward hook on the model (:meth:`observe`; :func:`run_cam` does). The
    outputs of perturbed inputs (ScoreCAM, AblationCAM) follow the same rule, except that one
    chosen detection is followed by box: the same-label detection of IoU ≥ ``MATCH_IOU`` with
    it scores, else 0. :attr:`chosen` holds the explained indices into the first output.
    """

    def __init__(
        self,
        threshold: float,
        explain: ExplainedDetections | None = None,
        categories: list[str] | None = None,
    ) -> None:
        self.threshold = threshold
        self.explain = explain or ExplainedDetections()
        self.categories = categories or []
        self.note: str | None = None
        self.problem: str | None = None
        self.chosen = np.zeros(0, np.int64)
        self._reference: dict[str, torch.Tensor] | None = None

    def observe(self, module, inputs, outputs: list[dict[str, torch.Tensor]]) -> None:
        """Forward hook: choose the explained detections on the first (unperturbed) output."""
        if self._reference is not None:
            return
        self._reference = outputs[0]
        try:
            self.chosen = self._choose(outputs[0], first=True).cpu().numpy()
        except ValueError as error:
            self.problem = str(error)

    def __call__(self, output: dict[str, torch.Tensor]) -> torch.Tensor:
        self.observe(None, None, [output])
        if self.problem:
            raise ValueError(self.problem)
        scores = output["scores"]
        if output is self._reference:
            return scores[torch.as_tensor(self.chosen, device=scores.device)].sum()
        if self.explain.detection is None:
            return scores[self._choose(output, first=False)].sum()
        return self._matched_score(output)

    def _class_mask(self, output: dict[str, torch.Tensor]) -> torch.Tensor:
        scores, name = output["scores"], self.explain.category
        if name is None:
            return torch.ones_like(scores, dtype=torch.bool)
        if name not in self.categories:
            raise ValueError(f"'{name}' is not one of this detector's classes.")
        wanted = [k for k, category in enumerate(self.categories) if category == name]
        return torch.isin(output["labels"], torch.tensor(wanted, device=scores.device))

    def _choose(self, output: dict[str, torch.Tensor], first: bool) -> torch.Tensor:
        scores = output["scores"].detach()
        if self.explain.detection is not None:
            rank = self.explain.detection
            if not 0 <= rank < scores.numel():
                raise ValueError(
                    f"Detection #{rank + 1} does not exist: the model returned "
                    f"{scores.numel()} detection(s)."
                )
            return scores.argsort(descending=True)[rank : rank + 1]
        mask = self._class_mask(output)
        if first and scores.numel() == 0:
            self.note = "The model returned no detection: gradient methods have no target."
        elif first and not bool(mask.any()):
            raise ValueError(
                f"No detection of class '{self.explain.category}' in this image (detected: "
                f"{', '.join(self._top_names(output))}): choose a detected class."
            )
        keep = mask & (scores >= self.threshold)
        if bool(mask.any()) and not bool(keep.any()):
            best = scores.masked_fill(~mask, -1.0).argmax()
            keep = torch.zeros_like(mask)
            keep[best] = True
            if first:
                which = "detection" if self.explain.category is None else "detection of the class"
                self.note = (
                    f"No {which} ≥ {self.threshold:.2f}: the gradient target is the top-scoring "
                    f"{which} (score {float(scores[best]):.2f})."
                )
        return torch.nonzero(keep).flatten()

    def _top_names(self, output: dict[str, torch.Tensor], count: int = 5) -> list[str]:
        names: list[str] = []
        for label in output["labels"][output["scores"].argsort(descending=True)].tolist():
            name = self.categories[label] if 0 <= label < len(self.categories) else f"class {label}"
            if name not in names:
                names.append(name)
        return names[:count] or ["nothing"]

    def _matched_score(self, output: dict[str, torch.Tensor]) -> torch.Tensor:
        reference = self._reference
        index = torch.as_tensor(self.chosen, device=reference["boxes"].device)
        same = torch.nonzero(output["labels"] == reference["labels"][index]).flatten()
        if same.numel():
            overlap = box_iou(reference["boxes"][index].detach(), output["boxes"][same].detach())[0]
            best = int(overlap.argmax())
            if float(overlap[best]) >= MATCH_IOU:
                return output["scores"][same[best]]
        return output["scores"].sum() * 0.0


@dataclass(frozen=True)
class CamEntry:
    """A pytorch-grad-cam class and what it costs: the part every CAM registry shares
    (detectors here, classifiers in ``classify``)."""

    name: str
    cam_class: type[BaseCAM]
    uses_gradients: bool
    cost: str
    forwards: float | None
    """The cost in forward passes of the model (a backward ≈ one forward), what the ETAs scale
    a timed step by (:mod:`ui.eta`); None when it depends on more than the model (the
    target layer's channels): no estimate until one has run."""
    description: str
    kwargs: dict = field(default_factory=dict)
    expensive: bool = False

    def runner(self, fast: bool = True) -> type[BaseCAM]:
        """The class to run: gradient methods stop their backward at the target layer unless
        ``fast`` is False (pytorch-grad-cam's own forward and backward, for comparison); those
        that need the input's gradient (FullGrad) run the library's own backward anyway."""
        return stop_at_target(self.cam_class) if fast and self.uses_gradients else self.cam_class

    def shared(self) -> dict:
        """This entry's :class:`CamEntry` fields (to derive another registry's entry)."""
        return {f.name: getattr(self, f.name) for f in fields(CamEntry)} | {
            "kwargs": dict(self.kwargs)
        }


@dataclass(frozen=True)
class CamMethod(CamEntry):
    """A detector CAM method: which target layers it can run at."""

    @property
    def uses_targets(self) -> bool:
        """Gradient and perturbation methods depend on the explained detections; EigenCAM not."""
        return self.uses_gradients or self.cam_class in (AblationCAM, ScoreCAM)

    @property
    def needs_tensor_layer(self) -> bool:
        """Gradients and channel ablation need a target layer whose output is one tensor."""
        return self.uses_gradients or self.cam_class is AblationCAM

    def unsupported(self, layer: TargetLayer) -> str | None:
        """Why this method cannot run at ``layer``, or None when it can."""
        if self.needs_tensor_layer and layer.reshape_transform is not None:
            return (
                f"{self.name} needs a single-tensor target layer: pytorch-grad-cam tracks no "
                f"gradients or ablations through the FPN's dict of levels ({layer.description})."
            )
        if self.cam_class is AblationCAM and layer.no_ablation:
            return f"{self.name} cannot run at {layer.description}: {layer.no_ablation}"
        return None


CAM_METHODS: dict[str, CamMethod] = {
    method.name: method
    for method in (
        CamMethod(
            "EigenCAM",
            OrientedEigenCAM,
            False,
            "1 forward",
            1.0,
            "First principal component of the target layer's activations (class-agnostic).",
        ),
        CamMethod(
            "EigenGradCAM",
            OrientedEigenGradCAM,
            True,
            "1 forward + 1 backward",
            2.0,
            "First principal component of gradients × activations.",
        ),
        CamMethod(
            "GradCAM",
            GradCAM,
            True,
            "1 forward + 1 backward",
            2.0,
            "Activations weighted by spatially averaged gradients (Selvaraju et al., 2017).",
        ),
        CamMethod(
            "GradCAM++",
            GradCAMPlusPlus,
            True,
            "1 forward + 1 backward",
            2.0,
            "Second-order weighting of positive gradients (Chattopadhay et al., 2018).",
        ),
        CamMethod(
            "XGradCAM",
            XGradCAM,
            True,
            "1 forward + 1 backward",
            2.0,
            "Gradients normalised by activations (Fu et al., 2020).",
        ),
        CamMethod(
            "HiResCAM",
            HiResCAM,
            True,
            "1 forward + 1 backward",
            2.0,
            "Element-wise gradients × activations, faithful to the model (Draelos & Carin, 2020).",
        ),
        CamMethod(
            "LayerCAM",
            LayerCAM,
            True,
            "1 forward + 1 backward",
            2.0,
            "Positive gradients × activations per location (Jiang et al., 2021).",
        ),
        CamMethod(
            "AblationCAM",
            AblationCAM,
            False,
            "1 forward per ablated channel (~20% of channels)",
            None,
            "Score drop when channels are zeroed (Desai & Ramaswamy, 2020). Slow on CPU.",
            kwargs={"batch_size": 4, "ratio_channels_to_ablate": 0.1},
            expensive=True,
        ),
        CamMethod(
            "ScoreCAM",
            ScoreCAM,
            False,
            "1 forward per channel",
            None,
            "Score of the input masked by each activation map (Wang et al., 2020). Very slow.",
            expensive=True,
        ),
    )
}


def get_method(name: str) -> CamMethod:
    try:
        return CAM_METHODS[name]
    except KeyError:
        raise KeyError(f"Unknown CAM method {name!r}; known: {', '.join(CAM_METHODS)}") from None


def unsupported_reason(
    method: str, detector: DetectorSpec, target: str | None = None
) -> str | None:
    """Why ``method`` cannot run on ``detector``'s target layer, or None when it can."""
    return get_method(method).unsupported(detector.targets[target or detector.default_target])


@dataclass
class Detections:
    """Boxes in image pixels (x1, y1, x2, y2), scores in [0, 1], COCO-style label ids; for
    instance-segmentation models (Mask R-CNN), ``masks``: bool (N, H, W) at image size."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    names: list[str]
    masks: np.ndarray | None = None

    MASK_THRESHOLD = 0.5
    """A pixel belongs to an instance when its mask probability is > this (torchvision's 0.5)."""

    @classmethod
    def from_output(cls, output: dict[str, torch.Tensor], categories: list[str]) -> Detections:
        """From a torchvision detection output; its "masks" (N, 1, H, W) probabilities, when
        present, become bool (N, H, W) masks (> :attr:`MASK_THRESHOLD`)."""
        labels = output["labels"].detach().cpu().numpy().astype(np.int64)
        names = [categories[k] if 0 <= k < len(categories) else f"class {k}" for k in labels]
        masks = None
        if "masks" in output:
            probabilities = output["masks"].detach().cpu().numpy()
            masks = probabilities.reshape(len(labels), *probabilities.shape[-2:]) > (
                cls.MASK_THRESHOLD
            )
        return cls(
            boxes=output["boxes"].detach().cpu().numpy().astype(np.float32).reshape(-1, 4),
            scores=output["scores"].detach().cpu().numpy().astype(np.float32),
            labels=labels,
            names=names,
            masks=masks,
        )

    def above(self, threshold: float) -> Detections:
        keep = self.scores >= threshold
        names = [name for name, k in zip(self.names, keep, strict=True) if k]
        masks = None if self.masks is None else self.masks[keep]
        return Detections(self.boxes[keep], self.scores[keep], self.labels[keep], names, masks)

    def __len__(self) -> int:
        return len(self.scores)


@dataclass
class CamResult:
    """A detector's CAM at image resolution (float32 (H, W) in [0, 1]) with the detections of
    the same forward pass."""

    cam: np.ndarray
    detections: Detections
    label: str
    """"<detector> (<weights>) · <method> @ <target>", e.g. "FCOS R50-FPN (UNTRAINED) ·
    EigenCAM @ layer4"."""
    trained: bool
    notes: list[str] = field(default_factory=list)
    explained: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Indices into ``detections`` of the detections the CAM explains (by target methods)."""
    target: str = ""
    """The target layer: a key of the detector's ``targets``."""


def _cam_kwargs(method: CamMethod, layer: TargetLayer, model: torch.nn.Module) -> dict:
    kwargs = dict(method.kwargs)
    if method.cam_class is AblationCAM:
        kwargs["ablation_layer"] = AblationLayer()
    return {"reshape_transform": layer.reshape_for(model), **kwargs}


def run_cam(
    detector: LoadedDetector,
    rgb: np.ndarray,
    method: str = "EigenCAM",
    target: str | None = None,
    score_threshold: float = SCORE_THRESHOLD,
    fast: bool = True,
    explain: ExplainedDetections | None = None,
) -> CamResult:
    """Detections and one CAM of ``rgb`` (uint8 H×W×3) from a single detection forward pass.

    ``explain`` chooses what gradient and perturbation methods explain (default: all
    detections ≥ ``score_threshold``); EigenCAM is class-agnostic and ignores it.
    ``fast=False`` runs gradient methods through pytorch-grad-cam's unmodified forward and
    backward (same result, slower: the benchmark's comparison). Not thread-safe (hooks live on
    the model): hold the model's lock around this call.
    """
    return run_cams(detector, [rgb], method, target, score_threshold, fast, explain)[0]


def batchable(method: str) -> bool:
    """Whether :func:`run_cams` takes several images of ``method`` in one pass: gradient-free
    and gradient methods (per-image targets, per-image maps); the perturbation methods already
    batch their perturbed copies of one image, one image at a time."""
    return get_method(method).cam_class not in (AblationCAM, ScoreCAM)


def run_cams(
    detector: LoadedDetector,
    rgbs: Sequence[np.ndarray],
    method: str = "EigenCAM",
    target: str | None = None,
    score_threshold: float = SCORE_THRESHOLD,
    fast: bool = True,
    explain: ExplainedDetections | None = None,
) -> list[CamResult]:
    """:func:`run_cam` of same-sized images in one batched forward (and one backward): each
    image gets its own target (its own explained detections), detections and map, equal to
    its single-image result. Several images need a :func:`batchable` method."""
    entry = get_method(method)
    if len(rgbs) > 1 and not batchable(method):
        raise ValueError(f"{method} runs one image at a time (it batches its perturbations).")
    if len({rgb.shape for rgb in rgbs}) > 1:
        raise ValueError("A batch needs images of one size; group them by size first.")
    explain = explain or ExplainedDetections()
    target = target or detector.spec.default_target
    layer = detector.spec.targets[target]
    reason = entry.unsupported(layer)
    if reason:
        raise ValueError(reason)
    tensor = torch.cat([to_input_tensor(rgb, detector.device) for rgb in rgbs])
    score_targets = [
        DetectionScoreTarget(score_threshold, explain, detector.categories) for _ in rgbs
    ]

    def observe_each(module, inputs, outputs: list[dict[str, torch.Tensor]]) -> None:
        for score_target, output in zip(score_targets, outputs, strict=False):
            score_target.observe(module, inputs, [output])

    grad_mode = torch.enable_grad() if entry.uses_gradients else torch.no_grad()
    observer = detector.model.register_forward_hook(observe_each)
    try:
        with (
            grad_mode,
            entry.runner(fast)(
                detector.model,
                layer.resolve_all(detector.model),
                **_cam_kwargs(entry, layer, detector.model),
            ) as cam,
        ):
            grayscale = cam(tensor, targets=score_targets)
            detections = [Detections.from_output(o, detector.categories) for o in cam.outputs]
    finally:
        observer.remove()
    if not fast and entry.uses_gradients:
        detector.model.zero_grad(set_to_none=True)
    label = f"{detector.label} · {entry.name} @ {target}"
    results = []
    for heat, found, score_target in zip(grayscale, detections, score_targets, strict=True):
        cam, notes = _scaled_map(heat, entry, score_target, explain, score_threshold)
        results.append(
            CamResult(cam, found, label, detector.trained, notes, score_target.chosen, target)
        )
    return results


def _scaled_map(
    grayscale: np.ndarray,
    entry: CamMethod,
    score_target: DetectionScoreTarget,
    explain: ExplainedDetections,
    score_threshold: float,
) -> tuple[np.ndarray, list[str]]:
    """One image's map min-max scaled to [0, 1] (a constant map: zeros and a note), with the
    notes on what it explains."""
    notes = [score_target.note] if score_target.note and entry.uses_targets else []
    if not entry.uses_targets and explain != ExplainedDetections():
        notes.append(
            f"{entry.name} is class-agnostic: it does not depend on the choice of "
            f"{explain.describe(score_threshold)}."
        )
        notes += [score_target.problem] if score_target.problem else []
    heat = np.nan_to_num(grayscale).astype(np.float32)
    spread = float(heat.max() - heat.min())
    if spread > 1e-12:
        heat = (heat - heat.min()) / spread
    else:
        heat = np.zeros_like(heat)
        notes.append(f"{entry.name} returned a constant map (no signal at the target layer).")
    return heat, notes


def detect(detector: LoadedDetector, rgb: np.ndarray) -> Detections:
    """The bare detection forward under no-grad (the baseline of the CAM-overhead benchmark)."""
    with torch.no_grad():
        output = detector.model(to_input_tensor(rgb, detector.device))[0]
    return Detections.from_output(output, detector.categories)
