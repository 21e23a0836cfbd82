"""Decoding user images into plain RGB arrays: orientation, colour modes, size bounds.

Every image that enters Saliency Explorer goes through :func:`load_image`, which returns an
``uint8`` array of shape (H, W, 3) plus human-readable notices about what was changed.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 4096
"""Images whose long side exceeds this (pixels) are downscaled on load."""
MAX_PIXELS = 120_000_000
"""Decoding refuses images above this many pixels (decompression-bomb guard)."""
ACCEPTED_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


class ImageLoadError(ValueError):
    """The input is not a usable image; the message is meant for the user."""


@dataclass
class LoadedImage:
    rgb: np.ndarray
    notices: list[str] = field(default_factory=list)


@dataclass
class Sample:
    """One image with its optional human references.

    ``mask`` is a float32 (H, W) map in [0, 1] (binary attention masks are 0/1);
    ``fixations`` an (N, 2) float array of ``(x, y)`` pixel coordinates; ``other_fixations``
    fixations of other images of the same dataset in normalised [0, 1] coordinates (for sAUC).
    """

    id: str
    image: np.ndarray
    source: str
    mask: np.ndarray | None = None
    fixations: np.ndarray | None = None
    other_fixations: np.ndarray | None = None
    notices: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[0], self.image.shape[1]

    @cached_property
    def key(self) -> str:
        """Content hash: the cache key of everything computed from this image (hashed once)."""
        return image_hash(self.image)

    def other_fixations_px(self) -> np.ndarray | None:
        """``other_fixations`` in this image's pixel coordinates."""
        if self.other_fixations is None:
            return None
        return from_normalised(self.other_fixations, self.shape)

    def resized(self, shape: tuple[int, int]) -> Sample:
        """The sample at ``shape`` = (H, W): image, mask and fixation coordinates scaled along."""
        if self.shape == tuple(shape):
            return self
        from saliency_core.fixations import rescale_points

        return replace(
            self,
            image=resize_image(self.image, shape),
            mask=None if self.mask is None else resize_map(self.mask, shape),
            fixations=None
            if self.fixations is None
            else rescale_points(self.fixations, self.shape, shape),
        )


def to_normalised(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(x, y) pixel points of an image of ``shape`` (H, W) as [0, 1] coordinates of its extent.

    Pixel centres sit at integer coordinates, so the image spans ``-0.5 .. W - 0.5``:
    ``u = (x + 0.5) / W`` (likewise v), the inverse of :func:`from_normalised`.
    """
    return (np.asarray(points, dtype=np.float64) + 0.5) / np.array([shape[1], shape[0]])


def from_normalised(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """[0, 1] coordinates (see :func:`to_normalised`) as (x, y) pixels of an image of ``shape``."""
    return np.asarray(points, dtype=np.float64) * np.array([shape[1], shape[0]]) - 0.5


def image_hash(rgb: np.ndarray) -> str:
    """SHA-1 over the array's shape and bytes."""
    digest = hashlib.sha1(str(rgb.shape).encode())
    digest.update(np.ascontiguousarray(rgb).tobytes())
    return digest.hexdigest()[:16]


def _open(source: bytes | str | Path) -> Image.Image:
    """Decode after checking the header's size against :data:`MAX_PIXELS`.

    PIL itself refuses images over twice its own limit while opening; the explicit check
    (no change to PIL's global limit, so it is safe with concurrent sessions) covers the rest.
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if not data:
        raise ImageLoadError("The file is empty.")
    too_large = f"The image is too large to decode safely (limit {MAX_PIXELS / 1e6:.0f} MP)."
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise ImageLoadError(too_large)
        image.load()
    except Image.DecompressionBombError as error:
        raise ImageLoadError(too_large) from error
    except UnidentifiedImageError as error:
        raise ImageLoadError("This file is not an image format we can read.") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageLoadError(f"The image file is corrupt or truncated ({error}).") from error
    return image


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """Scale 16/32-bit integer and float images to 8 bit by their value range."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16") or (image.mode == "I" and values.max(initial=0) <= 65535):
        scaled = values / 257.0 if values.max(initial=0) > 255 else values
    else:
        low, high = float(values.min(initial=0)), float(values.max(initial=0))
        scaled = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8)).convert("RGB")


def _to_rgb(image: Image.Image) -> tuple[Image.Image, str | None]:
    mode = image.mode
    if mode == "RGB":
        return image, None
    if mode.startswith("I") or mode == "F":
        return _high_depth_to_rgb(image), f"Converted {mode} (high bit depth) to 8-bit RGB."
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        note = f"Composited {mode} transparency onto white."
        return Image.alpha_composite(background, rgba).convert("RGB"), note
    return image.convert("RGB"), f"Converted colour mode {mode} to RGB."


def load_image(source: bytes | str | Path, max_side: int = MAX_SIDE) -> LoadedImage:
    """Decode, apply EXIF orientation, convert to RGB and bound the long side to ``max_side``."""
    image = _open(source)
    notices: list[str] = []
    orientation = image.getexif().get(0x0112, 1)
    if orientation not in (1, None):
        image = ImageOps.exif_transpose(image)
        notices.append(f"Applied EXIF orientation {orientation}.")
    if getattr(image, "n_frames", 1) > 1:
        notices.append("Multi-frame image: using the first frame.")
    image, note = _to_rgb(image)
    if note:
        notices.append(note)
    rgb = np.asarray(image, dtype=np.uint8).copy()
    if min(rgb.shape[:2]) < 8:
        raise ImageLoadError(f"The image is too small ({rgb.shape[1]}×{rgb.shape[0]} px).")
    long_side = max(rgb.shape[:2])
    if long_side > max_side:
        scale = max_side / long_side
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        notices.append(
            f"Downscaled from {rgb.shape[1]}×{rgb.shape[0]} to {size[0]}×{size[1]} px "
            f"(long side limit {max_side} px)."
        )
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return LoadedImage(rgb=rgb, notices=notices)


def load_mask(source: bytes | str | Path, shape: tuple[int, int]) -> tuple[np.ndarray, list[str]]:
    """A human attention mask as float32 (H, W) in [0, 1], resized to ``shape`` if needed."""
    image = _open(source)
    gray = np.asarray(image.convert("L") if image.mode != "L" else image, dtype=np.float32) / 255.0
    notices: list[str] = []
    if gray.shape != tuple(shape):
        notices.append(
            f"Mask resized from {gray.shape[1]}×{gray.shape[0]} to the image's "
            f"{shape[1]}×{shape[0]} px."
        )
        gray = resize_map(gray, shape)
    return np.clip(gray, 0.0, 1.0).astype(np.float32), notices


def resize_map(values: np.ndarray, shape: tuple[int, int], nearest: bool = False) -> np.ndarray:
    """Resize a 2-D float map to ``shape`` = (H, W) (bilinear, or nearest for label maps)."""
    if values.shape == tuple(shape):
        return values.astype(np.float32, copy=False)
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.resize(values.astype(np.float32), (shape[1], shape[0]), interpolation=interpolation)


def resize_image(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize an RGB uint8 image to ``shape`` = (H, W), aspect ratio not kept (study protocol)."""
    if rgb.shape[:2] == tuple(shape):
        return rgb
    shrinking = shape[0] * shape[1] < rgb.shape[0] * rgb.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(rgb, (shape[1], shape[0]), interpolation=interpolation)
