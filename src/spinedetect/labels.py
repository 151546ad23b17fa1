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
    return np.isin(labels, np.asarray(list(classes), dtype=labels.dtype if labels.dtype.kind in "iu" else np.int64))


def canal_mask(labels: np.ndarray) -> np.ndarray:
    """Boolean canal mask (CSF ∪ cord) of a schema label map."""
    return union_mask(labels, CANAL)


def bone_mask(labels: np.ndarray) -> np.ndarray:
    """Boolean bone mask (body ∪ posterior elements ∪ osseous lesion) of a schema label map."""
    return union_mask(labels, BONE)
