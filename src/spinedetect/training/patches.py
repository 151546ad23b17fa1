"""Training data: sources -> preprocessed cases in memory -> deterministic augmented patches.

A patch is a pure function of (seed, sample index): the case is drawn by the sources' weights and every
random transform is seeded from the index. Resuming at step s therefore draws exactly the patches an
uninterrupted run would, and K distributed ranks draw disjoint index ranges.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spinedetect.data import (DatasetAdapter, PhantomDataset, RealCordDataset, RealCtDataset, RealMriVbDataset,
                              SpiderDataset, TotalSegmentatorDataset, VerseDataset, load_split)
from spinedetect.data.base import Case
from spinedetect.errors import ConfigError
from spinedetect.labels import NUM_CLASSES
from spinedetect.preprocess.transforms import PreprocessConfig, to_model_grid
from spinedetect.training.config import REAL_KINDS, AugmentConfig, SourceConfig, SourceKind
from spinedetect.training.losses import encode_target, group_layout

__all__ = ["PreparedCase", "make_adapter", "select_cases", "prepare_case", "load_sources", "PatchDataset",
           "collate_patches", "sample_seed"]

log = logging.getLogger(__name__)

_ADAPTERS = {SourceKind.SPIDER: SpiderDataset, SourceKind.VERSE: VerseDataset,
             SourceKind.TOTALSEGMENTATOR: TotalSegmentatorDataset, SourceKind.REAL_MRI_VB: RealMriVbDataset,
             SourceKind.REAL_CORD: RealCordDataset, SourceKind.REAL_CT: RealCtDataset}


@dataclass
class PreparedCase:
    """A case on the model grid: image (1, X, Y, Z) float32, target (1, X, Y, Z) uint8 group indices."""

    case_id: str
    source: str
    image: torch.Tensor
    target: torch.Tensor
    affine: np.ndarray
    class_to_group: tuple[int, ...]
    group_names: list[str]
    indices: list[Any] | None = None

    @property
    def n_groups(self) -> int:
        """Number of loss groups (background group included)."""
        return len(self.group_names)


def make_adapter(src: SourceConfig) -> DatasetAdapter:
    """The adapter of one configured source."""
    if src.kind is SourceKind.PHANTOM:
        import dataclasses

        from spinedetect.config import load_config
        from spinedetect.phantom import PhantomConfig

        cfg = load_config(PhantomConfig, src.phantom_config or None)
        if src.phantom_modality:
            cfg = dataclasses.replace(cfg, imaging=dataclasses.replace(cfg.imaging, modality=src.phantom_modality))
        return PhantomDataset(src.count, src.first_seed, cfg)
    if src.kind in REAL_KINDS:
        return _ADAPTERS[src.kind](Path(src.root), lesion_free=src.lesion_free)
    return _ADAPTERS[src.kind](Path(src.root))


def select_cases(src: SourceConfig, adapter: DatasetAdapter) -> list[str]:
    """Case ids of a source after its split/subset and explicit case list."""
    ids = adapter.case_ids()
    if src.split_file:
        wanted = set(load_split(src.split_file)[src.subset])
        ids = [i for i in ids if i in wanted]
    if src.cases:
        missing = sorted(set(src.cases) - set(ids))
        if missing:
            raise ConfigError(f"Source {src.kind.value} has no case {missing[0]}",
                              expected=f"one of {ids[:5]}...", found=repr(missing[0]))
        ids = [i for i in ids if i in set(src.cases)]
    if not ids:
        raise ConfigError(f"Source {src.kind.value} ({src.root or 'phantoms'}) selects no cases",
                          hint="Check root, split_file and subset")
    return ids


def prepare_case(case: Case, cfg: PreprocessConfig, pad_to: tuple[int, int, int] | None = None) -> PreparedCase:
    """Resample a case to the model grid and encode its labels as loss groups.

    With ``pad_to`` (the patch size) the case is zero-padded to at least that size and the voxel indices
    of every group are precomputed for class-balanced cropping.
    """
    layout = group_layout(case.mapping)
    target_native = encode_target(np.asarray(case.labels.array), case.mapping)
    image, target, affine = to_model_grid(case.image, target_native, cfg)
    assert target is not None
    indices = None
    if pad_to is not None:
        from monai.transforms import SpatialPad
        from monai.transforms.utils import map_classes_to_indices

        pad = SpatialPad(spatial_size=pad_to, mode="constant")
        image, target = pad(image).as_tensor(), pad(target).as_tensor()
        indices = map_classes_to_indices(target, num_classes=NUM_CLASSES)
    return PreparedCase(case.case_id, case.meta.get("source", case.mapping.name), image.contiguous(),
                        target.contiguous(), affine, layout.class_to_group, layout.names(), indices)


def load_sources(sources: tuple[SourceConfig, ...], cfg: PreprocessConfig,
                 pad_to: tuple[int, int, int] | None = None) -> tuple[list[PreparedCase], list[float], dict]:
    """Load and prepare every case; returns cases, sampling weights (sum 1) and the record of case ids."""
    cases: list[PreparedCase] = []
    weights: list[float] = []
    record: dict[str, list[str]] = {}
    for src in sources:
        adapter = make_adapter(src)
        ids = select_cases(src, adapter)
        key = (f"{src.kind.value}:{src.subset}" if src.kind is not SourceKind.PHANTOM
               else f"phantom{src.phantom_modality}:{src.first_seed}")
        record.setdefault(key, []).extend(ids)
        for case_id in ids:
            log.info("preparing %s %s", src.kind.value, case_id)
            cases.append(prepare_case(adapter.load(case_id), cfg, pad_to))
            weights.append(src.weight / len(ids))
    total = sum(weights)
    return cases, [w / total for w in weights], record


def sample_seed(seed: int, index: int) -> np.random.Generator:
    """The random generator of sample ``index`` of a run seeded ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, index]))


def _augmentations(cfg: AugmentConfig) -> Any:
    from monai.transforms import (Compose, Identityd, OneOf, Rand3DElasticd, RandAdjustContrastd,
                                  RandCropByLabelClassesd, RandFlipd, RandGaussianNoised, RandRotated,
                                  RandScaleIntensityd, RandShiftIntensityd)

    keys = ["image", "label"]
    r = cfg.rotate_range_rad
    # Rand3DElasticd draws a displacement field and resamples even when its own prob says "skip": gate it
    # with OneOf so that skipped patches cost nothing and are not blurred by an identity resampling.
    elastic = Rand3DElasticd(keys=keys, sigma_range=(5.0, 8.0), magnitude_range=(40.0, 120.0), prob=1.0,
                             mode=("bilinear", "nearest"), padding_mode="zeros")
    p = cfg.elastic_prob
    gated = [] if p <= 0 else [elastic] if p >= 1 else [OneOf([elastic, Identityd(keys=keys)], weights=[p, 1 - p])]
    return Compose([
        RandCropByLabelClassesd(keys=keys, label_key="label", spatial_size=cfg.patch_size, num_classes=NUM_CLASSES,
                                indices_key="indices", warn=False),
        *(RandFlipd(keys=keys, prob=cfg.flip_prob, spatial_axis=a) for a in cfg.flip_axes),
        RandRotated(keys=keys, range_x=r, range_y=r, range_z=r, prob=cfg.rotate_prob, mode=("bilinear", "nearest"),
                    padding_mode="zeros"),
        *gated,
        RandScaleIntensityd(keys="image", factors=0.2, prob=cfg.intensity_prob),
        RandShiftIntensityd(keys="image", offsets=0.1, prob=cfg.intensity_prob),
        RandAdjustContrastd(keys="image", gamma=(0.7, 1.5), prob=cfg.intensity_prob),
        RandGaussianNoised(keys="image", std=0.03, prob=cfg.intensity_prob),
    ])


class PatchDataset(torch.utils.data.Dataset):
    """Map-style dataset over sample indices: index -> one augmented, class-balanced patch."""

    def __init__(self, cases: list[PreparedCase], weights: list[float], cfg: AugmentConfig, seed: int) -> None:
        if not cases:
            raise ConfigError("No training cases", hint="Add sources under 'train' in the config")
        self.cases = cases
        self.weights = np.asarray(weights, dtype=np.float64)
        self.cfg = cfg
        self.seed = seed
        self.transforms = _augmentations(cfg)

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = sample_seed(self.seed, int(index))
        case = self.cases[int(rng.choice(len(self.cases), p=self.weights))]
        self.transforms.set_random_state(seed=int(rng.integers(2**31 - 1)))
        out = self.transforms({"image": case.image, "label": case.target.float(), "indices": case.indices})
        out = out[0] if isinstance(out, list) else out
        return {"image": _plain(out["image"]).float(), "label": _plain(out["label"]).round().long(),
                "class_to_group": torch.tensor(case.class_to_group), "n_groups": case.n_groups}


def _plain(t: Any) -> torch.Tensor:
    """A plain tensor (MONAI returns MetaTensors, whose metadata DDP and collation do not need)."""
    return t.as_tensor() if hasattr(t, "as_tensor") else torch.as_tensor(t)


def collate_patches(samples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack patches into a batch: image (B, 1, *P), label (B, 1, *P), class_to_group (B, C), n_groups (B,)."""
    return {"image": torch.stack([s["image"] for s in samples]),
            "label": torch.stack([s["label"] for s in samples]),
            "class_to_group": torch.stack([s["class_to_group"] for s in samples]),
            "n_groups": torch.tensor([s["n_groups"] for s in samples])}
