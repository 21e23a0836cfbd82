"""DETR (Carion et al., 2020) through Hugging Face ``transformers``, behind torchvision's interface.

Optional: needs ``transformers`` and ``timm`` (``pip install -r requirements-detr.txt``); both
are imported only when a DETR model is built. The official checkpoints (``facebook/detr-resnet-50``
and ``-101``) use timm's ResNet as backbone; the config below builds it with
``use_pretrained_backbone=False``, so building a model downloads nothing.

:class:`DetrDetector` wraps ``DetrForObjectDetection``: it takes a [0, 1] RGB batch, resizes it
like DETR's image processor (shorter side 800 px, longer side ≤ 1333 px), normalises it with the
ImageNet mean and std, and turns the 100 query predictions into torchvision's format with the
processor's post-processing math: p = softmax(logits) without the last ("no object") class,
score = max p, label = argmax p, boxes (cx, cy, w, h) relative → (x1, y1, x2, y2) in pixels.
DETR predicts a set (no NMS); queries scoring below the internal floor are dropped.
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.ops import box_convert, clip_boxes_to_image

from saliency_core.models.detector_spec import (
    COCO_CATEGORIES,
    INTERNAL_SCORE_THRESHOLD,
    DetectorSpec,
    Progress,
    TargetLayer,
    numbered_categories,
    strip_prefix,
)
from saliency_core.models.weights import MissingWeightsError, load_state_dict_file, load_strict
from saliency_core.study import IMAGENET_MEAN, IMAGENET_STD

REQUIREMENTS = "requirements-detr.txt"
MIN_SIZE, MAX_SIZE = 800, 1333
"""DETR's image-processor resize: shorter side 800 px unless the longer side would pass 1333."""
HUB_FILES = ("config.json", "model.safetensors")
"""What ``from_pretrained`` reads from a repository snapshot."""


def hf_hub_cache_dir() -> Path:
    """Hugging Face's hub cache: ``$HF_HUB_CACHE``, else ``$HF_HOME/hub`` (default
    ``~/.cache/huggingface/hub``), read at call time like huggingface_hub does at import."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    cache_home = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
    return Path(os.environ.get("HF_HOME", cache_home / "huggingface")).expanduser() / "hub"


class DetrDetector(nn.Module):
    """``DetrForObjectDetection`` behind torchvision's detector interface.

    A forward hook on the backbone records the (h, w) of the last feature map, so that the
    encoder's (B, h·w, C) token sequence can be reshaped to the grid (:meth:`tokens_to_grid`).
    """

    def __init__(self, detr: nn.Module, min_size: int = MIN_SIZE, max_size: int = MAX_SIZE):
        super().__init__()
        self.detr = detr
        self.min_size, self.max_size = min_size, max_size
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), False)
        self.grid: tuple[int, int] = (0, 0)
        detr.model.backbone.register_forward_hook(self._record_grid)

    def _record_grid(self, module: nn.Module, inputs, output) -> None:
        self.grid = tuple(output[-1][0].shape[-2:])

    def tokens_to_grid(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, h·w, C) encoder tokens → (B, C, h, w), with h, w of the current forward."""
        height, width = self.grid
        if tokens.shape[1] != height * width:
            raise ValueError(f"{tokens.shape[1]} tokens do not form the {height}×{width} grid")
        return tokens.reshape(tokens.shape[0], height, width, -1).permute(0, 3, 1, 2)

    def forward(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        height, width = images.shape[-2:]
        scale = min(self.min_size / min(height, width), self.max_size / max(height, width))
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        pixels = F.interpolate(images, size=size, mode="bilinear", antialias=True)
        output = self.detr(pixel_values=(pixels - self.mean) / self.std)
        return detr_detections(output.logits, output.pred_boxes, (height, width))


def detr_detections(
    logits: torch.Tensor,
    boxes: torch.Tensor,
    image_size: tuple[int, int],
    floor: float = INTERNAL_SCORE_THRESHOLD,
) -> list[dict[str, torch.Tensor]]:
    """DETR's (B, Q, K + 1) logits and (B, Q, 4) relative cxcywh boxes → torchvision dicts.

    Scores keep their graph (gradient CAMs back-propagate from them); highest score first.
    """
    probabilities = logits.softmax(-1)[..., :-1]
    scores, labels = probabilities.max(-1)
    height, width = image_size
    corners = box_convert(boxes, "cxcywh", "xyxy") * boxes.new_tensor([width, height] * 2)
    detections = []
    for item_scores, item_labels, item_boxes in zip(scores, labels, corners, strict=True):
        keep = torch.nonzero(item_scores >= floor).flatten()
        keep = keep[item_scores[keep].argsort(descending=True)]
        detections.append(
            {
                "boxes": clip_boxes_to_image(item_boxes[keep], (height, width)),
                "scores": item_scores[keep],
                "labels": item_labels[keep],
            }
        )
    return detections


@dataclass(frozen=True, kw_only=True)
class DetrSpec(DetectorSpec):
    """A DETR checkpoint on the Hugging Face hub and its timm backbone name."""

    repo_id: str
    backbone: str

    @property
    def categories(self) -> list[str]:
        return COCO_CATEGORIES

    @property
    def checkpoint_name(self) -> str:
        return self.repo_id

    def pretrained_path(self) -> Path:
        """The repository's folder in the Hugging Face hub cache."""
        return hf_hub_cache_dir() / f"models--{self.repo_id.replace('/', '--')}"

    def _config(self, num_labels: int):
        from transformers import DetrConfig

        return DetrConfig(
            use_timm_backbone=True,
            backbone=self.backbone,
            use_pretrained_backbone=False,
            num_labels=num_labels,
        )

    def _wrap(self, detr: nn.Module, input_size: int | None) -> tuple[nn.Module, list[str]]:
        sizes = (input_size, input_size) if input_size else (MIN_SIZE, MAX_SIZE)
        num_labels = int(detr.config.num_labels)
        categories = COCO_CATEGORIES if num_labels == len(COCO_CATEGORIES) else None
        return DetrDetector(detr, *sizes), categories or numbered_categories(num_labels)

    def build_untrained(self, input_size: int | None) -> tuple[nn.Module, list[str]]:
        from transformers import DetrForObjectDetection

        return self._wrap(DetrForObjectDetection(self._config(len(COCO_CATEGORIES))), input_size)

    def load_file(self, path: Path, input_size: int | None) -> tuple[nn.Module, list[str]]:
        """A state dict of ``DetrForObjectDetection`` (or of :class:`DetrDetector`)."""
        from transformers import DetrForObjectDetection

        state = strip_prefix(load_state_dict_file(path), "detr.")
        classifier = state.get("class_labels_classifier.weight")
        num_labels = len(COCO_CATEGORIES) if classifier is None else classifier.shape[0] - 1
        detr = DetrForObjectDetection(self._config(int(num_labels)))
        load_strict(detr, state, path.name)
        return self._wrap(detr, input_size)

    def load_pretrained(
        self, input_size: int | None, progress: Progress | None
    ) -> tuple[nn.Module, list[str]]:
        """From the hub cache (``local_files_only``); downloaded once when missing."""
        from transformers import DetrForObjectDetection

        cache = hf_hub_cache_dir()
        try:
            detr = DetrForObjectDetection.from_pretrained(
                self.repo_id, cache_dir=cache, local_files_only=True
            )
        except OSError:
            self._download(cache, progress)
            detr = DetrForObjectDetection.from_pretrained(
                self.repo_id, cache_dir=cache, local_files_only=True
            )
        return self._wrap(detr, input_size)

    def _download(self, cache: Path, progress: Progress | None) -> None:
        """Fetch :data:`HUB_FILES` into the cache. One plain request first: offline, it fails
        at once, where huggingface_hub would retry with back-off for about a minute."""
        import huggingface_hub

        bar = None if progress is None else _reporting_tqdm(progress)
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
        probe = f"{endpoint}/{self.repo_id}/resolve/main/{HUB_FILES[0]}"
        try:
            urllib.request.urlopen(urllib.request.Request(probe, method="HEAD"), timeout=20).close()
            for name in HUB_FILES:
                huggingface_hub.hf_hub_download(self.repo_id, name, cache_dir=cache, tqdm_class=bar)
        except Exception as error:  # noqa: BLE001 - offline, HTTP or hub errors: weights not had
            files = " and ".join(f"`{name}`" for name in HUB_FILES)
            raise MissingWeightsError(
                f"Pretrained COCO weights for {self.name} are not in the Hugging Face cache and "
                f"cannot be downloaded here ({error.__class__.__name__}). Put the snapshot of "
                f"`{self.repo_id}` ({files}; e.g. `hf download {self.repo_id} "
                f"{' '.join(HUB_FILES)}` where there is internet) into `{cache}` (the folder "
                f"`{self.pretrained_path().name}`), or choose the 'file' or 'untrained' weight "
                "source."
            ) from error


def _reporting_tqdm(progress: Progress) -> type:
    """A tqdm class that also reports (bytes done, bytes total) to ``progress``."""
    from tqdm.auto import tqdm

    class Reporting(tqdm):
        def update(self, n: float | None = 1) -> bool | None:
            self.reported = getattr(self, "reported", 0) + int(n or 0)
            progress(self.reported, int(self.total or 0))
            return super().update(n)

    return Reporting


def _spec(name: str, repo_id: str, backbone: str, depth: str) -> DetrSpec:
    return DetrSpec(
        name=name,
        repo_id=repo_id,
        backbone=backbone,
        targets={
            "layer4": TargetLayer(
                "detr.model.backbone.model.layer4", f"{depth} layer4 (stride 32, backbone's last)"
            ),
            "encoder": TargetLayer(
                "detr.model.encoder.layers.-1",
                "transformer encoder output (last layer's tokens on the stride-32 grid)",
                reshape_factory=lambda model: model.tokens_to_grid,
                no_ablation="the encoder calls its layers with attention masks and position "
                "embeddings, which pytorch-grad-cam's ablation layer does not take",
            ),
        },
        family="set prediction (transformer)",
        notes="Hugging Face transformers; 100 object queries, no NMS.",
        packages=("transformers", "timm"),
        install=f"pip install -r {REQUIREMENTS}",
        licence="Apache-2.0",
    )


DETR_SPECS: tuple[DetrSpec, ...] = (
    _spec("DETR R50", "facebook/detr-resnet-50", "resnet50", "ResNet-50"),
    _spec("DETR R101", "facebook/detr-resnet-101", "resnet101", "ResNet-101"),
)
