"""Models: registries of detectors, classifiers and type-2 (gaze) models, their weight sources,
downloads and the model cache."""
