"""Saliency readouts on classifier backbones (Oyama & Yamanaka 2018; DeepGaze IIE's readout):
the heads (:data:`READOUT_KINDS`), the network and its recipe, files, prediction."""

from saliency_core.models.readout.files import (
    READOUT_FILE,
    load_readout,
    read_recipe,
    readout_file,
    save_readout,
)
from saliency_core.models.readout.heads import READOUT_KINDS
from saliency_core.models.readout.network import (
    DEFAULT_LAYERS,
    ReadoutNet,
    ReadoutRecipe,
    build_readout,
)
from saliency_core.models.readout.predict import predict_readout

__all__ = [
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
