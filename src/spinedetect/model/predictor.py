"""nnU-Net-style predictor: load a checkpoint once, then segment volumes on their native grid.

``predict`` = preprocess (RAS, model spacing, intensity) -> sliding-window softmax (optional flip TTA)
-> probabilities resampled to the input's native grid through the affines -> argmax -> small lesion /
tumour pieces removed (``inference.min_*_mm3``, spinedetect.model.postprocess) -> a schema label map with
the input's affine.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from spinedetect.config import config_from_mapping, config_to_dict
from spinedetect.io.volume import Volume
from spinedetect.labels import NUM_CLASSES, Label
from spinedetect.model.checkpoint import file_sha256, load_checkpoint, package_versions
from spinedetect.model.network import build_network
from spinedetect.model.postprocess import labels_from_probabilities, remove_small_components
from spinedetect.model.runtime import autocast, resolve_device, resolve_precision
from spinedetect.preprocess.transforms import resample_to_grid, to_model_grid

if TYPE_CHECKING:  # training.config imports model.network: import it lazily to keep the packages acyclic
    from spinedetect.training.config import InferenceConfig, TrainConfig

__all__ = ["DEFAULT_WEIGHTS", "default_checkpoint", "sliding_window_probs", "probabilities_on_native_grid",
           "Predictor"]

log = logging.getLogger(__name__)

#: The shipped default model (see MODEL_CARD.md).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "default.pt"


def default_checkpoint() -> Path | None:
    """Path of the shipped default model, or None where it is not installed."""
    return DEFAULT_WEIGHTS if DEFAULT_WEIGHTS.is_file() else None


def probabilities_on_native_grid(probs: np.ndarray, grid_affine: np.ndarray, volume: Volume) -> np.ndarray:
    """Probabilities (C, X, Y, Z) on the model grid ``grid_affine`` resampled (trilinear) onto ``volume``'s
    native grid; voxels outside the model grid get no probability at all and are called background."""
    native = resample_to_grid(probs, grid_affine, volume.shape, volume.affine, order=1)
    native[0][native.sum(axis=0) <= 0] = 1.0
    return native


@torch.no_grad()
def sliding_window_probs(model: nn.Module, image: torch.Tensor, roi_size: tuple[int, int, int],
                         inference: InferenceConfig, device: torch.device, precision: str = "fp32",
                         tta: bool | None = None, flip_axes: tuple[int, ...] = (0, 1, 2)) -> torch.Tensor:
    """Softmax probabilities (C, X, Y, Z), float32 on the CPU, for an image (1, X, Y, Z) on the model grid.

    With TTA the image is also flipped along each of ``flip_axes`` (spatial axes 0..2; pass the axes the
    model was trained with flipped: a mirror it never saw is no augmentation) and the un-flipped
    probabilities are averaged.
    """
    from monai.inferers import sliding_window_inference

    use_tta = inference.tta if tta is None else tta
    batch = image[None].to(device)
    flips: list[tuple[int, ...]] = [()] + ([(2 + int(a),) for a in flip_axes] if use_tta else [])
    total = None
    for dims in flips:
        x = torch.flip(batch, dims) if dims else batch
        with autocast(device, precision):
            logits = sliding_window_inference(x, roi_size=roi_size, sw_batch_size=inference.sw_batch_size,
                                              predictor=model, overlap=inference.overlap, mode=inference.mode)
        probs = torch.softmax(logits.float(), dim=1)
        probs = torch.flip(probs, dims) if dims else probs
        total = probs if total is None else total + probs
    return (total / len(flips))[0].cpu()


class Predictor:
    """A loaded model. Build it with :meth:`from_checkpoint`; reuse it for many volumes."""

    def __init__(self, model: nn.Module, config: TrainConfig, device: torch.device, *,
                 model_sha256: str | None = None, source: str | None = None, step: int | None = None,
                 tta: bool | None = None, precision: str = "fp32") -> None:
        self.model = model.to(device).eval()
        self.config = config
        self.device = device
        self.model_sha256 = model_sha256
        self.source = source
        self.step = step
        self.tta = config.inference.tta if tta is None else tta
        self.precision = precision

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, device: str | torch.device = "auto", *,
                        tta: bool | None = None, precision: str = "fp32") -> "Predictor":
        """Load ``path`` (None: the shipped default model) once, verifying its hashes."""
        if path is None:
            path = default_checkpoint()
            if path is None:
                from spinedetect.errors import InputError

                raise InputError("No default model is installed", expected=f"weights at {DEFAULT_WEIGHTS}",
                                 found="no file", hint="Pass a checkpoint path or train one with 'spinedetect train'")
        from spinedetect.training.config import TrainConfig

        dev = resolve_device(device)
        payload = load_checkpoint(path)
        config = config_from_mapping(TrainConfig, payload["config"], source=f"{path} (config)")
        model = build_network(config.network)
        model.load_state_dict(payload["model"])
        log.info("loaded model %s (step %s) on %s", path, payload.get("step"), dev)
        return cls(model, config, dev, model_sha256=file_sha256(path), source=str(path), step=payload.get("step"),
                   tta=tta, precision=resolve_precision(precision, dev))

    def model_grid_probabilities(self, image: torch.Tensor) -> torch.Tensor:
        """The bare sliding-window inference (with this predictor's mirrored passes): softmax probabilities
        (C, X, Y, Z) float32 on the CPU for a preprocessed image (1, X, Y, Z) on the model grid."""
        return sliding_window_probs(self.model, image, self.config.augment.patch_size, self.config.inference,
                                    self.device, self.precision, tta=self.tta,
                                    flip_axes=tuple(self.config.augment.flip_axes))

    def predict_probabilities(self, volume: Volume) -> np.ndarray:
        """Class probabilities (C, *volume.shape), float32, on the input's native grid (C = schema classes)."""
        image, _, grid_affine = to_model_grid(volume, None, self.config.preprocess)
        return probabilities_on_native_grid(self.model_grid_probabilities(image).numpy(), grid_affine, volume)

    def predict(self, volume: Volume) -> Volume:
        """Schema label map (uint8) of ``volume`` on its native grid, with its affine and source ids."""
        probs = self.predict_probabilities(volume)
        labels = labels_from_probabilities(probs)
        inference = self.config.inference
        limits = {Label.OSSEOUS_LESION: inference.min_lesion_mm3, Label.EPIDURAL_TUMOUR: inference.min_tumour_mm3}
        if any(v > 0 for v in limits.values()):
            labels = remove_small_components(labels, probs, volume.affine, limits)
        return Volume(array=labels, affine=volume.affine.copy(), modality=volume.modality, source=volume.source,
                      meta={"model_sha256": self.model_sha256})

    def provenance(self) -> dict[str, Any]:
        """Model file hash, step, resolved config, inference settings and package versions."""
        return {"model_path": self.source, "model_sha256": self.model_sha256, "step": self.step,
                "num_classes": NUM_CLASSES, "tta": self.tta, "device": str(self.device),
                "precision": self.precision, "config": config_to_dict(self.config),
                "versions": package_versions()}
