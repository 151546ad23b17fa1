"""Model: network factory, checkpoints, and the predictor used by inference."""

from spinedetect.model.checkpoint import load_checkpoint, save_checkpoint
from spinedetect.model.network import NetworkConfig, NetworkName, build_network
from spinedetect.model.predictor import DEFAULT_WEIGHTS, Predictor, default_checkpoint, sliding_window_probs
from spinedetect.model.runtime import resolve_device

__all__ = ["load_checkpoint", "save_checkpoint", "NetworkConfig", "NetworkName", "build_network",
           "DEFAULT_WEIGHTS", "Predictor", "default_checkpoint", "sliding_window_probs", "resolve_device"]
