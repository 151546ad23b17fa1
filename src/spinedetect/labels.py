"""The label schema: one place for the values, names, colours and unions of the segmentation classes.

Values (DESIGN.md): 0 background, 1 vertebral body, 2 posterior elements, 3 intervertebral disc,
4 thecal-sac CSF (canal minus cord), 5 spinal cord, 6 osseous lesion (overrides 1/2),
7 epidural tumour (inside the canal, outside the dura). The canal is CSF ∪ cord.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = [
    "Label",
    "LABEL_NAMES",
    "LABEL_COLOURS",
    "NUM_CLASSES",
    "CANAL",
    "BONE",
    "union_mask",
    "canal_mask",
    "bone_mask",
    "LabelMapping",
    "SCHEMA_MAPPING",
]


class Label(IntEnum):
    """Schema class values stored in every label map spinedetect reads or writes."""

    BACKGROUND = 0
    VERTEBRAL_BODY = 1
    POSTERIOR_ELEMENTS = 2
    DISC = 3
    CSF = 4
    CORD = 5
    OSSEOUS_LESION = 6
    EPIDURAL_TUMOUR = 7


NUM_CLASSES: int = len(Label)

LABEL_NAMES: dict[Label, str] = {
    Label.BACKGROUND: "background",
    Label.VERTEBRAL_BODY: "vertebral body",
    Label.POSTERIOR_ELEMENTS: "posterior elements",
    Label.DISC: "intervertebral disc",
    Label.CSF: "thecal sac CSF",
    Label.CORD: "spinal cord",
    Label.OSSEOUS_LESION: "osseous lesion",
    Label.EPIDURAL_TUMOUR: "epidural tumour",
}

#: RGB colours (0..255) used by every overlay, viewer colour table and DICOM SEG display colour.
LABEL_COLOURS: dict[Label, tuple[int, int, int]] = {
    Label.BACKGROUND: (0, 0, 0),
    Label.VERTEBRAL_BODY: (241, 214, 145),
    Label.POSTERIOR_ELEMENTS: (177, 122, 101),
    Label.DISC: (111, 184, 210),
    Label.CSF: (80, 150, 255),
    Label.CORD: (255, 255, 120),
    Label.OSSEOUS_LESION: (230, 40, 40),
    Label.EPIDURAL_TUMOUR: (255, 0, 220),
}

#: The spinal canal is the thecal sac: CSF ∪ cord.
CANAL: tuple[Label, ...] = (Label.CSF, Label.CORD)
#: Bone: body, posterior elements and the osseous lesions that replace them.
BONE: tuple[Label, ...] = (Label.VERTEBRAL_BODY, Label.POSTERIOR_ELEMENTS, Label.OSSEOUS_LESION)


def union_mask(labels: np.ndarray, classes: tuple[int, ...] | list[int]) -> np.ndarray:
    """Boolean mask of the voxels whose value is any of ``classes`` (same shape as ``labels``)."""
    if labels.dtype == np.uint8:  # a table lookup: about twice as fast as np.isin on a label map
        table = np.zeros(256, dtype=bool)
        table[[int(c) for c in classes if 0 <= int(c) < 256]] = True
        return np.take(table, labels)
    return np.isin(labels, np.asarray(list(classes), dtype=labels.dtype if labels.dtype.kind in "iu" else np.int64))


def canal_mask(labels: np.ndarray) -> np.ndarray:
    """Boolean canal mask (CSF ∪ cord) of a schema label map."""
    return union_mask(labels, CANAL)


def bone_mask(labels: np.ndarray) -> np.ndarray:
    """Boolean bone mask (body ∪ posterior elements ∪ osseous lesion) of a schema label map."""
    return union_mask(labels, BONE)


class LabelMapping:
    """How one data set's label values stand for unions of schema classes (partial labels).

    ``values`` maps each source label value to the schema classes it stands for (a union: e.g. a
    "vertebra" value stands for body ∪ posterior elements ∪ osseous lesion). ``annotated`` lists the
    schema classes the data set labels at all; the others are unannotated and, for a partial-label loss
    or an evaluation, are merged with background. Source value 0 is background unless mapped.
    """

    def __init__(self, name: str, values: dict[int, tuple[Label, ...]],
                 annotated: tuple[Label, ...] | None = None) -> None:
        self.name = name
        self.values = {int(k): tuple(Label(c) for c in v) for k, v in values.items()}
        covered = tuple(sorted({c for v in self.values.values() for c in v}))
        self.annotated: tuple[Label, ...] = tuple(annotated) if annotated is not None else covered
        missing = set(covered) - set(self.annotated)
        if missing:
            raise ValueError(f"{name}: mapped classes {sorted(int(m) for m in missing)} are not declared annotated")

    @property
    def unannotated(self) -> tuple[Label, ...]:
        """Schema classes this data set does not label (merged with background)."""
        return tuple(c for c in Label if c is not Label.BACKGROUND and c not in self.annotated)

    def unions(self) -> list[tuple[Label, ...]]:
        """The distinct unions of schema classes that the source values stand for, in value order."""
        seen: list[tuple[Label, ...]] = []
        for _, union in sorted(self.values.items()):
            if union not in seen:
                seen.append(union)
        return seen

    def union_index_map(self, labels: np.ndarray) -> tuple[np.ndarray, list[tuple[Label, ...]]]:
        """Re-code a source label map as indices into :meth:`unions` (+1; 0 = background/unmapped)."""
        unions = self.unions()
        out = np.zeros(labels.shape, dtype=np.uint8)
        for value, union in self.values.items():
            out[labels == value] = unions.index(union) + 1
        return out, unions

    def __repr__(self) -> str:
        return f"LabelMapping({self.name!r}, values={self.values!r}, annotated={self.annotated!r})"


#: Identity mapping for schema label maps (phantoms, spinedetect's own outputs).
SCHEMA_MAPPING = LabelMapping("schema", {int(c): (c,) for c in Label if c is not Label.BACKGROUND})
