"""MIT1003 (Judd et al., ICCV 2009): ``ALLSTIMULI/<name>.jpeg`` and the raw eye-tracking samples
``DATA/<subject>/<name>.mat``, from which fixations are detected here.

Each subject's file holds one MATLAB struct, named after the image (MATLAB cuts variable names at
63 characters), whose ``DATA(1).eyeData`` is an N×2 array of gaze samples (x, y in the
image's pixels, MATLAB's 1-based convention; negative values are blinks or lost tracking)
recorded at 240 Hz. The dataset's own code (``DatabaseCode/checkFixations.m``, which
pysaliency runs in MATLAB/Octave) detects fixations with an acceleration criterion; this module
is a velocity-threshold detector (I-VT, Salvucci & Goldberg 2000) written for the same data
with the same constants where they exist (34 px per degree, 50 ms shortest fixation, the median
sample as a fixation's position), so positions agree with Judd's fixations to within a
sample's jitter but fixation boundaries (onsets, durations) can differ by a few samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from saliency_core.data.importers.base import (
    FileProblem,
    ImageFixations,
    Importer,
    ImportRefused,
    Item,
    Problem,
    Scan,
    image_files,
    point_inside,
    read_mat,
    required_folder,
    subfolders,
)

SAMPLING_RATE_HZ = 240.0
"""The ETL 400 ISCAN eye tracker's rate in MIT1003."""
PIXELS_PER_DEGREE = 34.0
"""Judd's viewing geometry (checkFixations.m: 1024×768 px over 40.5×30 cm at 75 cm)."""
SACCADE_DEGREES_PER_S = 30.0
"""A sample belongs to a saccade when the smoothed gaze speed exceeds this (a common I-VT
threshold)."""
SMOOTHING_SAMPLES = 4
"""The speed is averaged over this many samples (16.7 ms at 240 Hz), as checkFixations smooths."""
MIN_FIXATION_S = 0.05
"""Runs of fixation samples shorter than this are dropped (checkFixations' FixDurCut)."""
MATLAB_NAME_LIMIT = 63


@dataclass(frozen=True)
class Detected:
    """Fixations detected in one gaze recording: (x, y) medians in the samples' coordinates,
    onsets and durations in seconds from the first sample."""

    points: np.ndarray
    onset_s: np.ndarray
    duration_s: np.ndarray


def detect_fixations(samples: np.ndarray, rate_hz: float = SAMPLING_RATE_HZ) -> Detected:
    """I-VT fixations of an N×2 array of (x, y) gaze samples (pixels) taken at ``rate_hz``.

    A sample is usable when both coordinates are finite and >= 0 (Judd: negative = blink). The
    speed into sample i is ``|p_i − p_{i−1}| · rate`` px/s (0 when either sample is unusable),
    averaged over the :data:`SMOOTHING_SAMPLES` samples ending at i; a sample is saccadic above
    ``SACCADE_DEGREES_PER_S · PIXELS_PER_DEGREE`` px/s. Each run of consecutive usable,
    non-saccadic samples lasting at least :data:`MIN_FIXATION_S` is a fixation at the run's
    median x and y, with onset ``start / rate`` and duration ``length / rate`` seconds.
    """
    points = np.asarray(samples, dtype=np.float64).reshape(-1, 2)
    usable = np.isfinite(points).all(axis=1) & (points >= 0).all(axis=1)
    speed = np.zeros(len(points))
    if len(points) > 1:
        step = np.hypot(*np.diff(np.nan_to_num(points), axis=0).T) * rate_hz
        speed[1:] = np.where(usable[1:] & usable[:-1], step, 0.0)
    window = np.ones(SMOOTHING_SAMPLES) / SMOOTHING_SAMPLES
    smoothed = np.convolve(speed, window)[: len(points)]
    fixating = usable & (smoothed <= SACCADE_DEGREES_PER_S * PIXELS_PER_DEGREE)
    edges = np.diff(np.concatenate(([0], fixating.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    long_enough = (ends - starts) >= round(MIN_FIXATION_S * rate_hz)
    starts, ends = starts[long_enough], ends[long_enough]
    runs = zip(starts, ends, strict=True)
    medians = [np.median(points[start:end], axis=0) for start, end in runs]
    return Detected(np.array(medians).reshape(-1, 2), starts / rate_hz, (ends - starts) / rate_hz)


def read_eye_data(path: Path, stem: str, label: str) -> np.ndarray:
    """The N×2 gaze samples of ``DATA(1).eyeData`` in a MIT1003 subject file (FileProblem
    naming ``label`` when the file does not have that structure)."""
    variables = read_mat(path, label)
    name = stem[:MATLAB_NAME_LIMIT]
    if name not in variables and len(variables) != 1:
        found = ", ".join(variables) or "none"
        raise FileProblem(f"{label}: no variable {name!r} (found: {found})")
    record = variables.get(name, next(iter(variables.values()), None))
    data = getattr(record, "DATA", None)
    if isinstance(data, np.ndarray) and data.dtype == object and data.size:
        data = data.flat[0]  # several repetitions: the first, as Judd's code reads DATA(1)
    samples = getattr(data, "eyeData", None)
    if samples is None:
        raise FileProblem(f"{label}: no DATA(1).eyeData in variable {name!r}")
    array = np.atleast_2d(np.asarray(samples, dtype=np.float64))
    if array.ndim != 2 or array.shape[1] < 2:
        raise FileProblem(f"{label}: eyeData must be N×2 (x, y), got shape {array.shape}")
    return array[:, :2]


def subject_table(samples: np.ndarray, subject: str, shape: tuple[int, int]) -> pd.DataFrame:
    """One subject's fixations on an image of ``shape``: the first detected fixation dropped
    (the central fixation cross shown before each image, as Judd et al. drop it), 1-based
    MATLAB pixels moved to 0-based (x − 1, y − 1), fixations outside the image dropped."""
    found = detect_fixations(samples)
    points = found.points[1:] - 1.0
    inside = point_inside(points, shape)
    return pd.DataFrame(
        {
            "x": points[inside, 0],
            "y": points[inside, 1],
            "subject": subject,
            "onset_s": found.onset_s[1:][inside],
            "duration_s": found.duration_s[1:][inside],
        }
    )


def image_fixations(
    data: Path, subjects: list[str], stem: str, shape: tuple[int, int]
) -> ImageFixations:
    """Every subject's fixations on image ``stem``; a subject file that is missing or cannot be
    read is left out (named in the problems), the others kept."""
    tables, problems = [], []
    for subject in subjects:
        label = f"DATA/{subject}/{stem}.mat"
        try:
            samples = read_eye_data(data / subject / f"{stem}.mat", stem, label)
        except FileProblem as problem:
            problems.append(Problem(label, str(problem)))
            continue
        tables.append(subject_table(samples, subject, shape))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return ImageFixations(table, tuple(problems))


def scan(source: Path) -> Scan:
    """MIT1003's images (``ALLSTIMULI``) with the subjects of ``DATA``."""
    stimuli = required_folder(source / "ALLSTIMULI", "MIT1003's images, from ALLSTIMULI.zip")
    data = required_folder(source / "DATA", "MIT1003's eye-tracking files, from DATA.zip")
    subjects = [folder.name for folder in subfolders(data)]
    if not subjects:
        raise ImportRefused(f"{data}: no subject folders (DATA/<subject>/<image>.mat)")
    images = image_files(stimuli)
    if not images:
        raise ImportRefused(f"{stimuli}: no images")
    return Scan(
        [
            Item(path.stem, path, partial(image_fixations, data, subjects, path.stem))
            for path in images
        ]
    )


README = """\
## MIT1003

Judd, T., Ehinger, K., Durand, F., & Torralba, A. (2009). Learning to predict where humans look.
ICCV 2009. http://people.csail.mit.edu/tjudd/WherePeopleLook/ — 1003 images, 15 subjects, free
viewing for 3 s. The download states no licence of its own: cite the paper; the images come
from Flickr and LabelMe, so check their terms before redistributing them.

### Conversion

- Images: `ALLSTIMULI/<name>.jpeg`, copied unchanged (stem = file name without extension).
- Fixations: **detected here** from each subject's raw gaze samples
  (`DATA/<subject>/<name>.mat`, `DATA(1).eyeData`, 240 Hz) by a velocity threshold (I-VT):
  speed averaged over 4 samples, saccadic above 30°/s (34 px per degree, Judd's geometry),
  fixations = runs of non-saccadic samples of at least 50 ms, placed at the run's median
  sample. Samples with a negative coordinate (blinks, lost tracking) belong to no fixation.
  Judd's own `checkFixations.m` (which pysaliency runs in MATLAB/Octave) uses an acceleration
  criterion instead: positions agree to within the samples' jitter, onsets and durations can
  differ by a few samples (4.2 ms each).
- The first fixation of each recording is dropped (the central fixation cross shown before each
  image), as Judd et al. and pysaliency's `get_mit1003` do.
- Pixel origin: the samples are MATLAB's 1-based pixel coordinates; `x = x_MIT − 1`,
  `y = y_MIT − 1` (0-based, pixel centres at integers, as this project reads them).
  pysaliency keeps the 1-based values, so its MIT1003 coordinates are 1 px larger.
- Fixations outside the image are dropped.
- Columns: `x, y, subject` (the `DATA/` folder name), `onset_s` (the fixation's first sample
  / 240, seconds from the recording's start), `duration_s` (its samples / 240).
"""

IMPORTER = Importer(
    summary="MIT1003 (Judd et al. 2009): ALLSTIMULI/ and DATA/<subject>/<image>.mat gaze samples",
    scan=scan,
    readme=README,
)
