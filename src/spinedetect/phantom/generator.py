"""generate_phantom: one seeded spine phantom (image, schema label map, truth)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from spinedetect.alert import AlertConfig
from spinedetect.io.volume import Volume
from spinedetect.phantom.config import LEVEL_NAMES, PhantomConfig
from spinedetect.phantom.model import TISSUE_LABELS, SpineModel, build_spine
from spinedetect.phantom.pathology import collapse_plan, place_lesions, plan_lesions
from spinedetect.phantom.render import MR_CONTRASTS, draw_image, grid_affine, local_coordinates
from spinedetect.phantom.truth import PhantomTruth, compute_truth

__all__ = ["Phantom", "generate_phantom"]

log = logging.getLogger(__name__)

_CONTRAST_P = {"T2": 0.35, "T1": 0.3, "STIR": 0.15, "random": 0.2}


@dataclass
class Phantom:
    """A generated phantom: ``image`` (float32, MR a.u. or CT HU), ``labels`` (uint8 schema), ``truth``."""

    image: Volume
    labels: Volume
    truth: PhantomTruth
    model: SpineModel
    config: PhantomConfig
    seed: int


def generate_phantom(config: PhantomConfig | None = None, seed: int = 0,
                     alert_config: AlertConfig | None = None) -> Phantom:
    """Generate the phantom of ``config`` and ``seed`` (same inputs, same arrays and truth).

    Anatomy, pathology and imaging draw from independent streams of the seed, so changing an imaging
    setting never changes the anatomy.
    """
    cfg = config or PhantomConfig()
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    anat_rng, path_rng, img_rng, geo_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(4))
    first = LEVEL_NAMES.index(cfg.anatomy.first_level)
    last = LEVEL_NAMES.index(cfg.anatomy.last_level)
    names = list(LEVEL_NAMES[first:last + 1])
    plans = plan_lesions(cfg.pathology, names, path_rng)
    model = build_spine(cfg.anatomy, anat_rng, collapse_plan(plans, path_rng))
    place_lesions(model, plans, path_rng)

    im = cfg.imaging
    # draws only for the randomised settings, so fixed settings keep the same phantom per seed
    acquisition = im.resolved_acquisition(float(img_rng.random()) if im.acquisition == "any" else 0.0)
    if im.modality == "CT":
        contrast = "CT"
    elif im.contrast == "any":
        contrast = str(img_rng.choice(list(_CONTRAST_P), p=list(_CONTRAST_P.values())))
    else:
        contrast = im.contrast
    affine, shape = grid_affine(model, im, acquisition, geo_rng)
    n_vox = int(np.prod(shape))
    if n_vox > 64_000_000:
        raise ValueError(f"image grid {shape} has {n_vox} voxels; more than 64 million (check spacing/shape)")
    s, a, r, idx = local_coordinates(model, affine, shape)
    tissue = model.tissues(s, a, r, idx).reshape(shape)
    labels = TISSUE_LABELS[tissue]
    image = draw_image(tissue, affine, im.modality, contrast if contrast in MR_CONTRASTS else "T2", im, img_rng)
    spacing = tuple(float(v) for v in np.linalg.norm(affine[:3, :3], axis=0))
    truth = compute_truth(model, seed=int(seed), modality=im.modality, contrast=contrast, acquisition=acquisition,
                          spacing_mm=spacing, alert_config=alert_config, grid=(affine, shape))
    description = f"PHANTOM {contrast} {acquisition}"
    meta = {"series_description": description, "contrast": contrast, "acquisition": acquisition, "seed": int(seed)}
    image_vol = Volume(array=image, affine=affine, modality=im.modality, meta=meta)
    label_vol = Volume(array=labels, affine=affine.copy(), modality=None, meta={"kind": "labels", "seed": int(seed)})
    log.info("phantom seed %d: %s %s %s grid %s, alert %s", seed, im.modality, contrast, acquisition, shape,
             truth.alert["level"])
    return Phantom(image=image_vol, labels=label_vol, truth=truth, model=model, config=cfg, seed=int(seed))
