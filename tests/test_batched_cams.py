"""Several images in one detector pass: each image's detections and CAM equal its own pass."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_core.maps import cams as C
from saliency_core.models.detectors import load_detector


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    """Three different 96×128 scenes (a bright block on noise, at different places)."""
    rng = np.random.default_rng(3)
    scenes = []
    for row, col in ((10, 20), (40, 70), (60, 5)):
        image = rng.integers(0, 80, (96, 128, 3), dtype=np.uint8)
        image[row : row + 30, col : col + 40] = (230, 200, 40)
        scenes.append(image)
    return scenes


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("Faster R-CNN R50-FPN", "EigenCAM"),
        ("Faster R-CNN R50-FPN", "GradCAM"),
        ("FCOS R50-FPN", "HiResCAM"),
    ],
)
def test_a_batch_gives_each_image_its_own_pass(images, name, method):
    detector = load_detector(name, "untrained", input_size=96)
    batched = C.run_cams(detector, images, method, score_threshold=0.05)
    assert len(batched) == len(images)
    for image, together in zip(images, batched, strict=True):
        alone = C.run_cam(detector, image, method, score_threshold=0.05)
        assert together.cam.shape == image.shape[:2]
        # float32 kernels differ with the batch size (~1e-6 in the features); a min-max
        # normalised gradient map amplifies that to ~1e-4 (measured 1.4e-4 for HiResCAM)
        np.testing.assert_allclose(together.cam, alone.cam, atol=1e-3)
        np.testing.assert_allclose(together.detections.scores, alone.detections.scores, atol=1e-4)
        np.testing.assert_array_equal(together.explained, alone.explained)
        assert together.notes == alone.notes
    # the images differ, so must their maps: one target per image, not one for all
    assert np.abs(batched[0].cam - batched[1].cam).mean() > 0.01


def test_a_batch_refuses_mixed_sizes_and_perturbation_methods(images):
    detector = load_detector("FCOS R50-FPN", "untrained", input_size=96)
    with pytest.raises(ValueError, match="images of one size"):
        C.run_cams(detector, [images[0], images[1][:64]], "EigenCAM")
    with pytest.raises(ValueError, match="ScoreCAM runs one image at a time"):
        C.run_cams(detector, images[:2], "ScoreCAM")
    assert C.batchable("GradCAM++") and not C.batchable("AblationCAM")
