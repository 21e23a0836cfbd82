"""Classifier maps in the one pipeline: which (classifier, weights, input side, method, target)
to run, the shared model, and one map with its top-5
(:class:`~saliency_core.maps.classifier_methods.ClassifierResult`).

Models are built once per (classifier, weights, input side, device) and shared through
:data:`saliency_core.models.cache.MODELS`, like the detectors; every run holds the model's lock
(pytorch-grad-cam's and Captum's hooks live on the shared model object).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from saliency_core.maps.classifier_methods import ClassifierResult, explain, method_unsupported
from saliency_core.maps.detector_maps import guard_memory, mark_untrained
from saliency_core.models.cache import MODELS, Locked, shared_model
from saliency_core.models.classifiers import CLASSIFIERS, LoadedClassifier, load_classifier
from saliency_core.models.weights import ModelChoice, WeightSource
from saliency_core.settings import Settings


@dataclass(frozen=True)
class ClassifierStep:
    """One classifier map to compute: a choice (a classifier's name, weights and input side,
    None: the weights' 224), a method and what it explains."""

    choice: ModelChoice
    method: str
    target_class: int | None = None
    top_k: int = 1

    @property
    def explains(self) -> str:
        """ "top-1", "class 281" or "top-3"."""
        if self.target_class is not None:
            return f"class {self.target_class}"
        return f"top-{self.top_k}"

    @property
    def label(self) -> str:
        """The map's label, e.g. "ResNet-50 (UNTRAINED) · GradCAM" (the target when not top-1)."""
        suffix = "" if self.explains == "top-1" else f" · {self.explains}"
        return f"{self.choice.label} · {self.method}{suffix}"


def classifier_choices(settings: Settings) -> tuple[list[ModelChoice], list[str]]:
    """The classifier choices of ``settings`` and why any is left out (a file source with no
    file given; the file's path is ``settings.weights_files[name]``)."""
    choices, skipped = [], []
    source = settings.classifier_weights
    for name in settings.classifiers:
        path = settings.weights_file(name)
        if source is WeightSource.FILE and not path:
            skipped.append(
                f"{name}: no weights file given (classifier weights = file): give the "
                "state-dict file's path, or choose other weights."
            )
            continue
        choices.append(ModelChoice(name, source, path, settings.classifier_input_size))
    return choices, skipped


def classifier_steps(settings: Settings) -> tuple[list[ClassifierStep], list[str]]:
    """Every (classifier, method) pair to run; the pairs a method cannot run on are skipped,
    each with its reason (:func:`~saliency_core.maps.classifier_methods.method_unsupported`)."""
    choices, skipped = classifier_choices(settings)
    jobs = []
    for choice in choices:
        for method in settings.classifier_methods:
            job = ClassifierStep(
                choice, method, settings.classifier_class, settings.classifier_top_k
            )
            reason = method_unsupported(method, CLASSIFIERS[choice.name])
            if reason:
                skipped.append(f"{job.label} skipped: {reason}")
            else:
                jobs.append(job)
    return jobs, skipped


def get_classifier(
    choice: ModelChoice,
    device: torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Locked[LoadedClassifier]:
    """The shared, locked classifier for ``choice`` (built, or downloaded, on first use)."""
    return shared_model("classifier", choice, load_classifier, device, progress, MODELS)


def compute_classifier_map(
    rgb: np.ndarray, job: ClassifierStep, device: torch.device | None = None
) -> ClassifierResult:
    """``job``'s map of ``rgb`` (uint8 H×W×3) with the top-5 predictions of the same pass,
    untrained weights marked with :data:`~saliency_core.maps.detector_maps.UNTRAINED_NOTE`."""
    entry = get_classifier(job.choice, device)
    with entry.lock:
        result = guard_memory(
            job.label,
            lambda: explain(entry.value, rgb, job.method, job.target_class, job.top_k),
        )
    return mark_untrained(result)


@dataclass(frozen=True)
class ClassifiedMap:
    """What a bundle keeps of a classifier map besides its values: the job and the classes
    it explains."""

    job: ClassifierStep
    explained: list[int]
