"""Fine-tuning detectors on a detection dataset (optionally human-centred augmentation arms):
:mod:`recipe` holds the settings and presets, :mod:`data` the torch dataset and loader,
:mod:`loop` the training function, :mod:`run_folder` the files of a run, :mod:`distributed`
the torchrun and Ray Train launchers. The command is ``saliency train``."""
