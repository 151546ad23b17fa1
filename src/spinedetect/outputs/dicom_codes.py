"""Coded concepts of spinedetect's DICOM outputs (SEG segments, SR measurements and evaluations).

Standard codes (SNOMED CT, DCM, UCUM) where pydicom's dictionary has the exact concept; otherwise a
private coding scheme, ``99SPINEDETECT``, as PS3.16 allows, rather than a near-miss standard code.
"""

from __future__ import annotations

import highdicom as hd
from pydicom.sr.codedict import codes

from spinedetect.alert.rules import AlertLevel
from spinedetect.grading import BilskyGrade
from spinedetect.labels import Label

__all__ = ["SCHEME", "local_code", "SEGMENT_CODES", "LEVEL_MEASUREMENTS", "BILSKY_CONCEPT", "GENANT_CONCEPT",
           "ALERT_CONCEPT", "bilsky_code", "genant_code", "alert_code", "vertebra_site_code"]

SCHEME = "99SPINEDETECT"


def local_code(value: str, meaning: str) -> hd.sr.CodedConcept:
    """A concept in spinedetect's private coding scheme."""
    return hd.sr.CodedConcept(value=value, scheme_designator=SCHEME, meaning=meaning)


#: Segment (category, property type) per schema class; the SEG segment number is the label value.
SEGMENT_CODES: dict[Label, tuple[object, object]] = {
    Label.VERTEBRAL_BODY: (codes.SCT.AnatomicalStructure, local_code("VB", "Vertebral body")),
    Label.POSTERIOR_ELEMENTS: (codes.SCT.AnatomicalStructure, codes.SCT.ArchOfVertebra),
    Label.DISC: (codes.SCT.AnatomicalStructure, local_code("IVD", "Intervertebral disc")),
    Label.CSF: (codes.SCT.BodySubstance, codes.SCT.CerebrospinalFluid),
    Label.CORD: (codes.SCT.AnatomicalStructure, codes.SCT.SpinalCord),
    Label.OSSEOUS_LESION: (codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.BonyMetastasis),
    Label.EPIDURAL_TUMOUR: (codes.SCT.MorphologicallyAbnormalStructure, local_code("EPT", "Epidural tumour")),
}

#: report.json level key -> (concept, UCUM unit) of the numeric SR measurements per level.
LEVEL_MEASUREMENTS: dict[str, tuple[hd.sr.CodedConcept, object]] = {
    "canal_area_mm2": (local_code("CANAL-AREA", "Spinal canal cross-sectional area"), codes.UCUM.SquareMillimeter),
    "canal_ap_mm": (local_code("CANAL-AP", "Spinal canal anteroposterior diameter"), codes.UCUM.Millimeter),
    "cord_area_mm2": (local_code("CORD-AREA", "Spinal cord cross-sectional area"), codes.UCUM.SquareMillimeter),
    "canal_compromise_pct": (local_code("CANAL-COMPROMISE", "Canal compromise"), codes.UCUM.Percent),
    "cord_compression_pct": (local_code("CORD-COMPRESSION", "Cord compression"), codes.UCUM.Percent),
    "height_loss_pct": (local_code("HEIGHT-LOSS", "Vertebral body height loss"), codes.UCUM.Percent),
}

BILSKY_CONCEPT = local_code("BILSKY", "Bilsky epidural spinal cord compression grade")
GENANT_CONCEPT = local_code("GENANT", "Genant vertebral fracture grade")
ALERT_CONCEPT = local_code("ALERT", "Spinal cord compression alert")


def bilsky_code(grade: BilskyGrade) -> hd.sr.CodedConcept:
    """Coded value of a Bilsky grade (e.g. ``BILSKY-1c``)."""
    return local_code(f"BILSKY-{grade.value}", f"Bilsky grade {grade.value}")


def genant_code(grade: int) -> hd.sr.CodedConcept:
    """Coded value of a Genant grade 0..3."""
    return local_code(f"GENANT-{int(grade)}", f"Genant grade {int(grade)}")


def alert_code(level: AlertLevel) -> hd.sr.CodedConcept:
    """Coded value of an alert level."""
    return local_code(f"ALERT-{level.value.upper()}", f"Alert {level.value}")


def vertebra_site_code(level_name: str) -> object | None:
    """SNOMED CT concept of a named vertebra (``"L1"`` -> L1 vertebra), or None where none exists."""
    try:
        return getattr(codes.SCT, f"{level_name}Vertebra")
    except AttributeError:
        return None
