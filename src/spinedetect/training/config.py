"""Training configuration (configs/train/*.yaml), loaded with ``spinedetect.config.load_config``.

The defaults are the shipped default model's recipe: phantoms + the real MRI training split.
Relative data paths are resolved against the working directory (run from the repository root).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal

from spinedetect.model.network import NetworkConfig
from spinedetect.preprocess.transforms import PreprocessConfig

__all__ = ["SourceKind", "REAL_KINDS", "SourceConfig", "AugmentConfig", "OptimConfig", "InferenceConfig", "TrainConfig"]


class SourceKind(str, enum.Enum):
    """Data sources with an adapter in :mod:`spinedetect.data`."""

    SPIDER = "spider"
    VERSE = "verse"
    TOTALSEGMENTATOR = "totalsegmentator"
    REAL_MRI_VB = "real-mri-vb"
    REAL_CORD = "real-cord"
    REAL_CT = "real-ct"
    PHANTOM = "phantom"


#: Sources of the shared data's real scans, all free of metastasis.
REAL_KINDS: frozenset[SourceKind] = frozenset({SourceKind.REAL_MRI_VB, SourceKind.REAL_CORD, SourceKind.REAL_CT})


@dataclass(frozen=True)
class SourceConfig:
    """One data source: a folder (``root``) or phantoms (``count`` from ``first_seed``).

    ``split_file`` + ``subset`` select cases by a split JSON; ``cases`` lists ids explicitly (both empty:
    every case). ``weight`` is this source's share of the sampled training patches. Phantoms use the
    phantom YAML ``phantom_config`` (empty: the generator's defaults) with its modality replaced by
    ``phantom_modality`` where that is set. ``lesion_free`` (real-* sources only: the shared data's real
    scans hold no metastasis) trains osseous lesion and epidural tumour as known absent on this source
    (:func:`spinedetect.data.shared.lesion_free_mapping`); false keeps them unannotated there.
    """

    kind: SourceKind = SourceKind.PHANTOM
    root: str = ""
    split_file: str = ""
    subset: Literal["train", "validation", "test"] = "train"
    cases: tuple[str, ...] = ()
    count: int = 0
    first_seed: int = 0
    phantom_config: str = ""
    phantom_modality: Literal["", "MR", "CT"] = ""
    weight: float = 1.0
    lesion_free: bool = False

    def __post_init__(self) -> None:
        if self.lesion_free and self.kind not in REAL_KINDS:
            raise ValueError(f"lesion_free is for the metastasis-free real sources "
                             f"({', '.join(k.value for k in REAL_KINDS)}), not {self.kind.value}: "
                             "that source may hold lesions (phantoms label theirs)")
        if self.weight <= 0:
            raise ValueError(f"weight must be > 0, got {self.weight}")
        if self.kind is SourceKind.PHANTOM and self.count <= 0:
            raise ValueError("a phantom source needs count > 0")
        if self.kind is not SourceKind.PHANTOM and not self.root:
            raise ValueError(f"source {self.kind.value} needs a root folder")


@dataclass(frozen=True)
class AugmentConfig:
    """Patch sampling and augmentation; probabilities per patch, angles in radians, sizes in voxels."""

    patch_size: tuple[int, int, int] = (48, 48, 48)
    flip_axes: tuple[int, ...] = (0,)
    flip_prob: float = 0.5
    rotate_prob: float = 0.2
    rotate_range_rad: float = 0.26
    elastic_prob: float = 0.05
    intensity_prob: float = 0.3


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with a polynomial learning-rate decay over ``steps``; ``batch_size`` patches per process."""

    steps: int = 1400
    batch_size: int = 2
    lr: float = 2e-3
    weight_decay: float = 1e-5
    poly_power: float = 0.9
    dice_weight: float = 1.0
    ce_weight: float = 1.0


@dataclass(frozen=True)
class InferenceConfig:
    """Sliding-window inference: window = the training patch, ``overlap`` fraction, flip test-time aug."""

    overlap: float = 0.25
    sw_batch_size: int = 1
    tta: bool = False
    mode: Literal["gaussian", "constant"] = "gaussian"
    # predicted osseous-lesion / epidural-tumour pieces (26-connected, native grid) smaller than this (mm³)
    # go to the next most probable class; 0 keeps all (spinedetect.model.postprocess)
    min_lesion_mm3: float = 0.0
    min_tumour_mm3: float = 0.0

    def __post_init__(self) -> None:
        for name in ("min_lesion_mm3", "min_tumour_mm3"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (mm³; 0 keeps every piece), got {getattr(self, name)}")


_REAL_VB = "../shared/data/real-mri-vb"
_VB_SPLIT = "configs/splits/real_mri_vb.json"


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; saved (resolved) with every checkpoint.

    ``precision``: "auto" = bf16 autocast on CPUs with native bf16 and AMP on CUDA, else fp32.
    ``max_minutes`` > 0 stops early (with a checkpoint) once that wall-clock time is used.
    ``keep_checkpoints`` > 0 keeps only that many of the newest step checkpoints (plus last.pt); 0 keeps all.
    """

    seed: int = 0
    train: tuple[SourceConfig, ...] = (
        SourceConfig(kind=SourceKind.PHANTOM, count=24, first_seed=0, phantom_modality="MR", weight=1.0),
        SourceConfig(kind=SourceKind.PHANTOM, count=6, first_seed=1000, phantom_modality="CT", weight=0.3),
        SourceConfig(kind=SourceKind.REAL_MRI_VB, root=_REAL_VB, split_file=_VB_SPLIT, subset="train", weight=0.8),
    )
    validation: tuple[SourceConfig, ...] = (
        SourceConfig(kind=SourceKind.PHANTOM, count=2, first_seed=100000, phantom_modality="MR"),
        SourceConfig(kind=SourceKind.REAL_MRI_VB, root=_REAL_VB, split_file=_VB_SPLIT, subset="validation"),
    )
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    checkpoint_every: int = 250
    validate_every: int = 500
    num_workers: int = 0
    max_minutes: float = 0.0
    keep_checkpoints: int = 0
