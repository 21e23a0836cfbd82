"""Training, and the experiments built on it: fine-tuning detectors on human-centred
augmentation arms (:mod:`recipe` settings and presets, :mod:`data` dataset and loader, :mod:`model`
heads and frozen stages, :mod:`loop` the training function) and saliency readouts on backbones
(:mod:`readout`), sharing :mod:`run_folder` (checkpoints, logs, manifest, resume), :mod:`session`
(progress, RNG, ranks) and :mod:`distributed` (torchrun and Ray Train launchers); the
experiments that train and then score with the evaluate engine (:mod:`experiment_runner`,
:mod:`experiment` its tables; :mod:`readout_experiment`). Commands: ``saliency train |
experiment | readout | readout-experiment``."""
