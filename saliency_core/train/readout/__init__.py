"""Training saliency readouts (:mod:`saliency_core.models.readout`) on fixation datasets:
:mod:`settings` the run's choices, :mod:`data` the split, the rescaled fixations and each
epoch's batches, :mod:`objective` the loss and scores, :mod:`fit` the training function over
the run folder the detector fine-tuning uses. The command is ``saliency readout``."""

from saliency_core.train.readout.fit import ReadoutResult, train_readout
from saliency_core.train.readout.settings import LOSSES, ReadoutTraining

__all__ = ["LOSSES", "ReadoutResult", "ReadoutTraining", "train_readout"]
