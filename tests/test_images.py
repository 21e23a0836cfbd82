"""Image decoding: colour modes, EXIF orientation, corrupt and huge files, masks."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from saliency_core.data import images
from saliency_core.data.fixations import to_pixel_coords
from saliency_core.data.images import ImageLoadError, load_image, load_mask


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


GRADIENT = np.tile(np.arange(64, dtype=np.uint8)[None, :] * 4, (48, 1))


@pytest.mark.parametrize(
    ("mode", "expected_note"),
    [
        ("RGB", None),
        ("L", "Converted colour mode L to RGB."),
        ("P", "Converted colour mode P to RGB."),
        ("CMYK", "Converted colour mode CMYK to RGB."),
    ],
)
def test_colour_modes_become_rgb(mode: str, expected_note: str | None):
    source = Image.fromarray(np.stack([GRADIENT] * 3, axis=-1)).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    loaded = load_image(encode(source, fmt))
    assert loaded.rgb.shape == (48, 64, 3) and loaded.rgb.dtype == np.uint8
    assert loaded.notices == ([expected_note] if expected_note else [])


def test_transparency_is_composited_on_white():
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:8, :, 3] = 255  # top half opaque red, bottom half fully transparent
    loaded = load_image(encode(Image.fromarray(rgba, "RGBA")))
    assert loaded.rgb[0, 0].tolist() == [200, 0, 0]
    assert loaded.rgb[15, 0].tolist() == [255, 255, 255]
    assert "transparency onto white" in loaded.notices[0]
    la = load_image(encode(Image.fromarray(rgba[..., [0, 3]], "LA")))
    assert la.rgb[15, 0].tolist() == [255, 255, 255]


def test_sixteen_bit_images_are_scaled_not_clipped():
    values = (np.arange(16 * 16).reshape(16, 16) * 256).astype(np.uint16)
    loaded = load_image(encode(Image.fromarray(values)))
    assert loaded.rgb[..., 0].max() == 254  # 65280 / 257 ≈ 254, not clipped to 255 everywhere
    assert loaded.rgb[0, 0, 0] == 0 and loaded.rgb[0, 1, 0] == 1
    assert "high bit depth" in loaded.notices[0]


def test_exif_orientation_is_applied():
    tall = np.zeros((40, 20, 3), np.uint8)
    tall[:10] = 255  # white band at the top
    image = Image.fromarray(tall)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    loaded = load_image(encode(image, "JPEG", exif=exif.tobytes()))
    assert loaded.rgb.shape == (20, 40, 3)
    assert loaded.rgb[:, -5:].mean() > 200 and loaded.rgb[:, :5].mean() < 50
    assert loaded.notices == ["Applied EXIF orientation 6."]


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "TIFF"])
def test_other_formats(fmt: str):
    rgb = np.stack([GRADIENT] * 3, axis=-1)
    loaded = load_image(
        encode(Image.fromarray(rgb), fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    )
    np.testing.assert_array_equal(loaded.rgb, rgb)


def test_non_images_and_corrupt_files_get_clear_messages():
    with pytest.raises(ImageLoadError, match="not an image format"):
        load_image(b"%PDF-1.4 definitely not a picture")
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(b"")
    truncated = encode(Image.fromarray(np.stack([GRADIENT] * 3, -1)), "PNG")[:-60]
    with pytest.raises(ImageLoadError, match="corrupt or truncated"):
        load_image(truncated)
    with pytest.raises(ImageLoadError, match="too small"):
        load_image(encode(Image.new("RGB", (4, 4))))


def test_huge_images_are_downscaled_and_bombs_refused(monkeypatch: pytest.MonkeyPatch):
    wide = encode(Image.new("RGB", (5000, 1000), (10, 20, 30)))
    loaded = load_image(wide)
    assert loaded.rgb.shape == (819, 4096, 3)
    assert "Downscaled from 5000×1000 to 4096×819" in loaded.notices[0]
    monkeypatch.setattr(images, "MAX_PIXELS", 1_000_000)
    with pytest.raises(ImageLoadError, match="too large to decode safely"):
        load_image(encode(Image.new("RGB", (1500, 1500))))


def test_masks_of_another_size_are_resized_with_a_notice():
    mask = np.zeros((20, 30), np.uint8)
    mask[5:15, 10:20] = 255
    values, notices = load_mask(encode(Image.fromarray(mask)), (40, 60))
    assert values.shape == (40, 60) and values.dtype == np.float32
    assert values.min() == 0.0 and values.max() == 1.0
    assert values[20, 30] == 1.0 and values[0, 0] == 0.0
    assert notices == ["Mask resized from 30×20 to the image's 60×40 px."]
    same, none = load_mask(encode(Image.fromarray(mask)), (20, 30))
    assert none == [] and same[10, 15] == 1.0


def test_sample_resize_scales_fixations_and_mask():
    sample = images.Sample(
        id="a",
        image=np.zeros((100, 200, 3), np.uint8),
        source="test",
        mask=np.ones((100, 200), np.float32),
        fixations=np.array([[100.0, 50.0], [199.0, 99.0]]),
    )
    small = sample.resized((50, 50))
    assert small.image.shape == (50, 50, 3) and small.mask.shape == (50, 50)
    # pixel centres at integer coordinates (fixations.rescale_points): edges map onto edges
    np.testing.assert_allclose(small.fixations, [[24.625, 24.75], [49.375, 49.25]])
    assert sample.resized((100, 200)) is sample
    assert sample.key == images.image_hash(sample.image) and len(sample.key) == 16


def test_resized_fixations_on_the_last_pixel_stay_in_the_image():
    """A fixation on the bottom-right pixel is still on it after a 2× downscale (study: 512 px)."""
    sample = images.Sample(
        id="a",
        image=np.zeros((1024, 1024, 3), np.uint8),
        source="test",
        fixations=np.array([[1023.0, 1023.0], [0.0, 0.0]]),
    )
    small = sample.resized((512, 512))
    assert to_pixel_coords(small.fixations, small.shape).tolist() == [[511, 511], [0, 0]]


def test_other_fixations_round_trip_through_normalised_coordinates():
    """Other images' fixations on their last pixel land on this image's last pixel (sAUC)."""
    others = images.to_normalised(np.array([[639.0, 479.0], [0.0, 0.0]]), (480, 640))
    assert others.min() >= 0.0 and others.max() <= 1.0
    sample = images.Sample(
        id="a", image=np.zeros((256, 512, 3), np.uint8), source="test", other_fixations=others
    )
    pixels = to_pixel_coords(sample.other_fixations_px(), sample.shape)
    assert pixels.tolist() == [[511, 255], [0, 0]]
