"""Decoding user images into plain RGB arrays: orientation, colour modes, size bounds.

Every image that enters Saliency Explorer goes through :func:`load_image`, which returns an
``uint8`` array of shape (H, W, 3) plus human-readable notices about what was changed.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 4096
"""Images whose long side exceeds this (pixels) are downscaled on load."""
MAX_PIXELS = 120_000_000
"""Decoding refuses images above this many pixels (decompression-bomb guard)."""
MAX_DECODE_BYTES = 400_000_000
"""Decoding refuses images whose decoded form would exceed this many bytes (pixels × bytes per
pixel of the decoded mode, :data:`DECODED_BYTES_PER_PIXEL`): a 100 MP colour photo, a 120 MP
16-bit scan. The 8-bit conversion then adds 3 bytes/pixel (1 for high-depth grey) plus one
band of :data:`CHUNK_PIXELS`, so one load stays under about 0.75 GB."""
DECODED_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
"""Bytes per pixel Pillow stores for a decoded mode; every other mode (RGB included) takes 4."""
CHUNK_PIXELS = 1 << 20
"""Conversion to 8 bit runs over horizontal bands of about this many pixels (1 MP), so its
working memory beyond the output does not grow with the image (no full-size float copy)."""
MIN_SIDE = 8
"""Shortest accepted image side in pixels, checked after downscaling."""
MAX_ASPECT = 20.0
"""Largest accepted aspect ratio, long side / short side, checked after downscaling: beyond it
detectors fail (their resizing rounds the short side to a few pixels), DeepGaze runs on
absurd sizes and exports round a side to 0."""
ACCEPTED_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
ACCEPTED_FORMATS = {
    "JPEG": "JPEG",
    "MPO": "JPEG",
    "PNG": "PNG",
    "WEBP": "WebP",
    "BMP": "BMP",
    "TIFF": "TIFF",
}
"""Pillow format names accepted (by content, whatever the file name), with the name shown to
users; MPO is the multi-picture JPEG of some cameras. Anything else (GIF, ICO, …) is refused."""
NOT_READABLE = "This file is not an image format we can read"
TOO_LARGE = f"The image is too large to decode safely (limit {MAX_PIXELS / 1e6:.0f} MP)."
TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)
"""EXIF orientations that swap width and height (rotations by 90° or 270°)."""
MASK_NOT_LOADED = "Mask not loaded (no mask metrics for this image):"
"""Notice prefix when an image's mask cannot be read; the mask's name and the reason follow."""


class ImageLoadError(ValueError):
    """The input is not a usable image; the message is meant for the user."""


@dataclass
class LoadedImage:
    """The decoded ``rgb`` (H, W, 3), what was changed, and ``original_shape``: the file's
    (H, W) after EXIF orientation, before any downscaling."""

    rgb: np.ndarray
    notices: list[str] = field(default_factory=list)
    original_shape: tuple[int, int] | None = None


@dataclass
class Sample:
    """One image with its optional human references.

    ``mask`` is a float32 (H, W) map in [0, 1] (binary attention masks are 0/1);
    ``fixations`` an (N, 2) float array of ``(x, y)`` pixel coordinates; ``fixation_columns``
    the fixation file's other columns (``subject``, ``onset_s``, …), one row per fixation;
    ``other_fixations`` fixations of other images of the same dataset in normalised [0, 1]
    coordinates (for sAUC).
    """

    id: str
    image: np.ndarray
    source: str
    mask: np.ndarray | None = None
    fixations: np.ndarray | None = None
    other_fixations: np.ndarray | None = None
    notices: list[str] = field(default_factory=list)
    fixation_columns: pd.DataFrame | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[0], self.image.shape[1]

    @cached_property
    def key(self) -> str:
        """Content hash: the cache key of everything computed from this image (hashed once)."""
        return image_hash(self.image)

    def fixation_table(self) -> pd.DataFrame | None:
        """The fixations as a table: ``x``, ``y`` in this image's pixels and the file's other
        columns (``subject``, ``onset_s``, …) when it has them."""
        if self.fixations is None:
            return None
        info = self.fixation_columns
        if info is None or len(info) != len(self.fixations):
            info = pd.DataFrame(index=range(len(self.fixations)))
        return info.reset_index(drop=True).assign(x=self.fixations[:, 0], y=self.fixations[:, 1])

    def other_fixations_px(self) -> np.ndarray | None:
        """``other_fixations`` in this image's pixel coordinates."""
        if self.other_fixations is None:
            return None
        return from_normalised(self.other_fixations, self.shape)

    def resized(self, shape: tuple[int, int]) -> Sample:
        """The sample at ``shape`` = (H, W): image, mask and fixation coordinates scaled along."""
        if self.shape == tuple(shape):
            return self
        from saliency_core.data.fixations import rescale_points

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


def _decoded_bytes(image: Image.Image) -> int:
    """Bytes Pillow holds for ``image`` decoded: pixels × DECODED_BYTES_PER_PIXEL of its mode."""
    return image.width * image.height * DECODED_BYTES_PER_PIXEL.get(image.mode, 4)


@contextmanager
def _decoding_errors() -> Iterator[None]:
    """Turn Pillow's decoding failures into :class:`ImageLoadError` messages for users."""
    try:
        yield
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageLoadError(TOO_LARGE) from error
    except UnidentifiedImageError as error:
        raise ImageLoadError(f"{NOT_READABLE}.") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageLoadError(f"The image file is corrupt or truncated ({error}).") from error


def _check_header(image: Image.Image) -> None:
    """Refuse, from the header alone, formats outside :data:`ACCEPTED_FORMATS` and sizes over
    :data:`MAX_PIXELS` or :data:`MAX_DECODE_BYTES`."""
    if image.format not in ACCEPTED_FORMATS:
        accepted = ", ".join(dict.fromkeys(ACCEPTED_FORMATS.values()))
        raise ImageLoadError(f"{NOT_READABLE} ({image.format}; accepted: {accepted}).")
    if image.width * image.height > MAX_PIXELS:
        raise ImageLoadError(TOO_LARGE)
    if (needed := _decoded_bytes(image)) > MAX_DECODE_BYTES:
        raise ImageLoadError(
            f"The image ({image.width}×{image.height} px, mode {image.mode}) would need "
            f"{needed / 1e6:.0f} MB to decode; the limit is {MAX_DECODE_BYTES / 1e6:.0f} MB "
            "per image. Downscale it first."
        )


def _open(source: bytes | str | Path) -> Image.Image:
    """Decode after checking the header (:func:`_check_header`).

    PIL itself refuses images over twice its own limit while opening; the explicit check
    (no change to PIL's global limit, so it is safe with concurrent sessions) covers the rest.
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if not data:
        raise ImageLoadError("The file is empty.")
    with _decoding_errors():
        image = Image.open(io.BytesIO(data))
        _check_header(image)
        image.load()
    return image


def image_size(path: str | Path) -> tuple[int, int]:
    """(H, W) of an image file after EXIF orientation, read from its header only.

    Refuses what :func:`load_image` refuses from the header (format, :data:`MAX_PIXELS`,
    :data:`MAX_DECODE_BYTES`) with the same :class:`ImageLoadError` messages.
    """
    with _decoding_errors(), Image.open(path) as image:
        _check_header(image)
        transposed = image.getexif().get(0x0112) in TRANSPOSING_ORIENTATIONS
        return (image.width, image.height) if transposed else (image.height, image.width)


def _bands(image: Image.Image) -> Iterator[tuple[slice, Image.Image]]:
    """(rows, band): horizontal bands of ``image`` of about CHUNK_PIXELS pixels each."""
    step = max(1, CHUNK_PIXELS // max(1, image.width))
    for top in range(0, image.height, step):
        bottom = min(top + step, image.height)
        yield slice(top, bottom), image.crop((0, top, image.width, bottom))


def _finite_range(image: Image.Image) -> tuple[float, float, int]:
    """(min, max) of the finite values of a high-depth image and its count of non-finite ones
    ((0, 0) when no value is finite), one band at a time."""
    low, high, non_finite = np.inf, -np.inf, 0
    for _, band in _bands(image):
        values = np.asarray(band, dtype=np.float64)
        finite = np.isfinite(values)
        non_finite += int(values.size - np.count_nonzero(finite))
        if finite.any():
            low = min(low, float(values[finite].min()))
            high = max(high, float(values[finite].max()))
    return (0.0, 0.0, non_finite) if low > high else (low, high, non_finite)


def _high_depth_to_gray(image: Image.Image, notices: list[str]) -> np.ndarray:
    """Scale a 16/32-bit integer or float image to 8-bit grey (H, W) by its value range.

    16-bit data (``I;16*``, or ``I`` within 0..65535) is divided by 257 when its maximum
    exceeds 255, else kept; other data is min-max scaled, v' = 255 (v − min) / (max − min)
    (all zeros when constant). Non-finite pixels (NaN, ±inf of a float TIFF) are replaced with
    the finite minimum, with a notice. Works band by band (float64 per band only), so the
    working memory is the 1 byte/pixel output plus one band.
    """
    low, high, non_finite = _finite_range(image)
    if non_finite:
        notices.append(
            f"Replaced {non_finite} non-finite pixel value(s) (NaN or ±inf) with the finite "
            f"minimum {low:g}."
        )
    sixteen_bit = image.mode.startswith("I;16") or (image.mode == "I" and max(high, 0) <= 65535)
    gray = np.empty((image.height, image.width), dtype=np.uint8)
    for rows, band in _bands(image):
        values = np.asarray(band, dtype=np.float64)
        if non_finite:
            values[~np.isfinite(values)] = low
        if sixteen_bit:
            scaled = values / 257.0 if max(high, 0) > 255 else values
        elif high > low:
            scaled = (values - low) / (high - low) * 255.0
        else:
            scaled = np.zeros_like(values)
        gray[rows] = np.clip(np.rint(scaled), 0, 255)
    return gray


def _to_rgb(image: Image.Image) -> tuple[Image.Image, str | None]:
    mode = image.mode
    if mode == "RGB":
        return image, None
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        note = f"Composited {mode} transparency onto white."
        return Image.alpha_composite(background, rgba).convert("RGB"), note
    return image.convert("RGB"), f"Converted colour mode {mode} to RGB."


def _decode_to_uint8(image: Image.Image, notices: list[str]) -> np.ndarray:
    """``image`` as uint8 (H, W, 3), or (H, W) grey for high-depth modes, band by band."""
    if image.mode.startswith("I") or image.mode == "F":
        gray = _high_depth_to_gray(image, notices)
        notices.append(f"Converted {image.mode} (high bit depth) to 8-bit RGB.")
        return gray
    rgb = np.empty((image.height, image.width, 3), dtype=np.uint8)
    note = None
    for rows, band in _bands(image):
        converted, note = _to_rgb(band)
        rgb[rows] = np.asarray(converted, dtype=np.uint8)
    if note:
        notices.append(note)
    return rgb


def _check_shape(pixels: np.ndarray, original: tuple[int, int], max_side: int) -> None:
    """Refuse an image whose short side (after downscaling) is under MIN_SIDE px or whose
    aspect ratio long/short exceeds MAX_ASPECT; ``original`` is the decoded (W, H)."""
    height, width = pixels.shape[:2]
    aspect = max(height, width) / min(height, width)
    if min(height, width) >= MIN_SIDE and aspect <= MAX_ASPECT:
        return
    size = f"{original[0]}×{original[1]} px"
    if (width, height) != original:
        size += f" ({width}×{height} px after downscaling to a {max_side} px long side)"
    problem = "too small" if min(original) < MIN_SIDE else f"too elongated ({aspect:.0f}:1)"
    raise ImageLoadError(
        f"The image is {problem}: {size}. Images need a short side of at least {MIN_SIDE} px "
        f"and an aspect ratio of at most {MAX_ASPECT:.0f}:1; crop or pad it."
    )


def load_image(source: bytes | str | Path, max_side: int = MAX_SIDE) -> LoadedImage:
    """Decode, apply EXIF orientation, convert to RGB and bound the long side to ``max_side``.

    Refuses images over MAX_PIXELS or MAX_DECODE_BYTES before decoding, and images whose
    short side is under MIN_SIDE px or whose aspect ratio exceeds MAX_ASPECT after
    downscaling (see :func:`_check_shape`).
    """
    image = _open(source)
    notices: list[str] = []
    orientation = image.getexif().get(0x0112, 1)
    if orientation not in (1, None):
        image = ImageOps.exif_transpose(image)
        notices.append(f"Applied EXIF orientation {orientation}.")
    if getattr(image, "n_frames", 1) > 1:
        notices.append("Multi-frame image: using the first frame.")
    original = image.size
    pixels = _decode_to_uint8(image, notices)
    del image  # the decoded image is no longer needed; only the 8-bit copy is resized
    long_side = max(pixels.shape[:2])
    if long_side > max_side:
        scale = max_side / long_side
        size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
        notices.append(
            f"Downscaled from {pixels.shape[1]}×{pixels.shape[0]} to {size[0]}×{size[1]} px "
            f"(long side limit {max_side} px)."
        )
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    _check_shape(pixels, original, max_side)
    rgb = cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB) if pixels.ndim == 2 else pixels
    return LoadedImage(rgb=rgb, notices=notices, original_shape=(original[1], original[0]))


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


def load_optional_mask(
    source: bytes | str | Path, name: str, shape: tuple[int, int]
) -> tuple[np.ndarray | None, list[str]]:
    """:func:`load_mask`, or (None, [a notice naming ``name``, the mask file, and why]) when it
    cannot be read: a bad mask costs only the mask, never its image."""
    try:
        return load_mask(source, shape)
    except (ValueError, OSError) as error:  # ImageLoadError is a ValueError
        return None, [f"{MASK_NOT_LOADED} {name}: {error}"]


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
