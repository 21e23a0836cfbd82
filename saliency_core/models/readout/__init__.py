"""Saliency readouts on classifier and detector backbones (Oyama & Yamanaka 2018; DeepGaze IIE's
readout): the backbones (:data:`BACKBONES`), the heads (:data:`READOUT_KINDS`), the network and
its recipe, files, prediction. Training them is :mod:`saliency_core.train.readout`'s."""

from saliency_core.models.readout.backbones import BACKBONES, DEFAULT_LAYERS
from saliency_core.models.readout.files import (
    READOUT_FILE,
    load_readout,
    read_recipe,
    readout_file,
    save_readout,
)
from saliency_core.models.readout.heads import READOUT_KINDS
from saliency_core.models.readout.network import (
    ReadoutNet,
    ReadoutRecipe,
    build_readout,
)
from saliency_core.models.readout.predict import predict_readout

__all__ = [
    "BACKBONES",
    "DEFAULT_LAYERS",
    "READOUT_FILE",
    "READOUT_KINDS",
    "ReadoutNet",
    "ReadoutRecipe",
    "build_readout",
    "load_readout",
    "predict_readout",
    "read_recipe",
    "readout_file",
    "save_readout",
]
