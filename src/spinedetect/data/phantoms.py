"""Phantom cases: every schema class labelled, generated on the fly from (config, seed)."""

from __future__ import annotations

from typing import Any

from spinedetect.data.base import Case, DatasetAdapter
from spinedetect.labels import SCHEMA_MAPPING

__all__ = ["PhantomDataset"]


class PhantomDataset(DatasetAdapter):
    """``count`` phantoms with seeds ``first_seed .. first_seed + count - 1``; the same seed, the same case.

    ``config`` is a ``spinedetect.phantom.PhantomConfig`` (None: its defaults).
    """

    name = "phantom"

    def __init__(self, count: int, first_seed: int = 0, config: Any = None) -> None:
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        self.count = count
        self.first_seed = first_seed
        self.config = config

    def case_ids(self) -> list[str]:
        return [f"phantom_{self.first_seed + i:06d}" for i in range(self.count)]

    def load(self, case_id: str) -> Case:
        from spinedetect.phantom import PhantomConfig, generate_phantom

        seed = int(case_id.rsplit("_", 1)[1])
        cfg = self.config if self.config is not None else PhantomConfig()
        ph = generate_phantom(cfg, seed)
        image = ph.image
        if image.modality is None:
            image.modality = getattr(ph, "modality", None) or "MR"
        return Case(case_id, case_id, image, ph.labels, SCHEMA_MAPPING, {"source": self.name, "seed": seed})
