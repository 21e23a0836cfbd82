"""Centre-bias priors: log densities of where people look regardless of image content.

The MIT1003 template (``centerbias_mit1003.npy``, a 1024×1024 log density released with DeepGaze)
is used when found in ``assets/`` or the torch hub checkpoint folder; otherwise a Gaussian prior
stands in, and its label says so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import zoom

from saliency_core.models.gaze.maps import normalise_log_density
from saliency_core.models.weights import hub_checkpoint_dir

TEMPLATE_NAME = "centerbias_mit1003.npy"
TEMPLATE_URL = f"https://github.com/matthias-k/DeepGaze/releases/download/v1.0.0/{TEMPLATE_NAME}"
ASSETS_DIR = Path(__file__).resolve().parents[3] / "assets"
GAUSSIAN_SIGMA = 0.25
"""Gaussian prior's standard deviation as a fraction of the image width (x) and height (y)."""
TEMPLATE_LABEL = "MIT1003 template"
GAUSSIAN_LABEL = f"Gaussian (σ = {GAUSSIAN_SIGMA} × width, height)"


@dataclass(frozen=True)
class CentreBias:
    """A centre-bias log density (float32 H×W, logsumexp 0, read-only) and its origin."""

    log_density: np.ndarray
    label: str
    from_template: bool


def gaussian_centre_bias(shape: tuple[int, int], sigma: float = GAUSSIAN_SIGMA) -> np.ndarray:
    """Isotropic Gaussian in normalised coordinates, as a log density of ``shape`` = (H, W).

    With u = (x + 0.5) / W − 0.5 and v = (y + 0.5) / H − 0.5 (pixel centres, image centre at 0):
    log p(x, y) = −(u² + v²) / (2σ²) − log Z. Cached per (shape, sigma): read-only.
    """
    return _cached_gaussian((int(shape[0]), int(shape[1])), float(sigma))


@functools.lru_cache(maxsize=16)
def _cached_gaussian(shape: tuple[int, int], sigma: float) -> np.ndarray:
    height, width = shape
    v = (np.arange(height) + 0.5) / height - 0.5
    u = (np.arange(width) + 0.5) / width - 0.5
    bias = normalise_log_density(-(v[:, None] ** 2 + u[None, :] ** 2) / (2 * sigma**2))
    bias.flags.writeable = False
    return bias


def template_centre_bias(template: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The template zoomed to ``shape`` with order 0 (nearest), then renormalised."""
    factors = (shape[0] / template.shape[0], shape[1] / template.shape[1])
    return normalise_log_density(zoom(template, factors, order=0, mode="nearest"))


def find_template(download: bool = False, progress: bool = True) -> Path | None:
    """The template in ``assets/`` or the hub folder; if asked, downloaded to the latter (tried
    once per process, so offline runs do not retry on every image). None when not available."""
    hub_path = hub_checkpoint_dir() / TEMPLATE_NAME
    for path in (ASSETS_DIR / TEMPLATE_NAME, hub_path):
        if path.is_file():
            return path
    downloaded = _download_template(str(hub_path), progress) if download else None
    return downloaded if downloaded is not None and downloaded.is_file() else None


@functools.lru_cache(maxsize=4)
def _download_template(destination: str, progress: bool) -> Path | None:
    try:
        Path(destination).parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(TEMPLATE_URL, destination, progress=progress)
    except OSError:
        return None
    return Path(destination)


@functools.lru_cache(maxsize=8)
def _cached_template_bias(path: str, modified_ns: int, shape: tuple[int, int]) -> np.ndarray:
    template = np.load(path, allow_pickle=False)
    if template.ndim != 2:
        raise ValueError(f"{path} is not a 2-D log density (shape {template.shape})")
    bias = template_centre_bias(template, shape)
    bias.flags.writeable = False
    return bias


def centre_bias(
    shape: tuple[int, int],
    template: str | Path | None = None,
    download: bool = False,
    progress: bool = True,
) -> CentreBias:
    """Centre-bias log density of ``shape`` = (H, W).

    ``template``: a template file to use (must exist); by default :func:`find_template` looks
    for one, and :func:`gaussian_centre_bias` stands in when there is none.
    """
    shape = (int(shape[0]), int(shape[1]))
    path = Path(template) if template is not None else find_template(download, progress)
    if path is None:
        return CentreBias(gaussian_centre_bias(shape), GAUSSIAN_LABEL, from_template=False)
    if not path.is_file():
        raise FileNotFoundError(f"centre-bias template not found: {path}")
    bias = _cached_template_bias(str(path), path.stat().st_mtime_ns, shape)
    return CentreBias(bias, f"{TEMPLATE_LABEL} ({path.name})", from_template=True)
