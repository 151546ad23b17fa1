"""DICOM Structured Report (TID 1500 Measurement Report, highdicom) of a measurement report.

One measurement group per named level (tracking identifier = level name, finding site = the vertebra
where SNOMED CT has it) holding the numeric measurements of ``report.json`` and the Bilsky/Genant
grades as coded evaluations, plus one study group holding the alert level. Values that report.json
holds as null are left out (TID 1500 has no numeric null), so the SR never states a guess.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from spinedetect import __version__
from spinedetect.alert.rules import AlertLevel
from spinedetect.errors import InputError
from spinedetect.grading import BilskyGrade
from spinedetect.outputs.dicom_codes import (ALERT_CONCEPT, BILSKY_CONCEPT, GENANT_CONCEPT, LEVEL_MEASUREMENTS,
                                             alert_code, bilsky_code, genant_code, vertebra_site_code)

__all__ = ["STUDY_GROUP_ID", "build_measurement_report", "read_measurement_report"]

log = logging.getLogger(__name__)

#: Tracking identifier of the group that carries the study's alert.
STUDY_GROUP_ID = "study"


def _tracking(identifier: str, uid_seed: str | None) -> hd.sr.TrackingIdentifier:
    uid = generate_uid(entropy_srcs=[uid_seed, identifier]) if uid_seed else hd.UID()
    return hd.sr.TrackingIdentifier(uid=uid, identifier=identifier)


def _level_group(level: Mapping[str, Any], uid_seed: str | None) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    name = str(level["name"])
    measurements = [hd.sr.Measurement(name=concept, value=float(level[key]), unit=unit)
                    for key, (concept, unit) in LEVEL_MEASUREMENTS.items() if level.get(key) is not None]
    evaluations = []
    if level.get("bilsky") is not None:
        evaluations.append(hd.sr.QualitativeEvaluation(BILSKY_CONCEPT, bilsky_code(BilskyGrade(level["bilsky"]))))
    if level.get("genant") is not None:
        evaluations.append(hd.sr.QualitativeEvaluation(GENANT_CONCEPT, genant_code(int(level["genant"]))))
    site = vertebra_site_code(name)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(name, uid_seed),
        finding_sites=[hd.sr.FindingSite(site)] if site is not None else None,
        measurements=measurements or None, qualitative_evaluations=evaluations or None)


def build_measurement_report(report: Mapping[str, Any], source_images: Sequence[Dataset], *,
                             series_number: int = 902, uid_seed: str | None = None) -> hd.sr.Comprehensive3DSR:
    """A Comprehensive 3D SR holding ``report`` (the report.json mapping) for ``source_images``."""
    if not source_images:
        raise InputError("No source images for the structured report", expected="the DICOM images measured",
                         found="an empty list")
    try:
        levels = list(report["levels"])
        alert = AlertLevel(report["alert"]["level"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError("Measurement report is incomplete", expected="'levels' and 'alert.level' as in "
                         "report.json", found=f"{type(exc).__name__}: {exc}") from None
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(entropy_srcs=["spinedetect", __version__]), name="spinedetect",
            manufacturer_name="spinedetect", model_name="spinedetect", serial_number=__version__))
    groups = [_level_group(level, uid_seed) for level in levels]
    groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(STUDY_GROUP_ID, uid_seed),
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(ALERT_CONCEPT, alert_code(alert))]))
    content = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device),
        procedure_reported=codes.SCT.ImagingProcedure, imaging_measurements=groups)
    seeded = (lambda tag: generate_uid(entropy_srcs=[uid_seed, tag])) if uid_seed else (lambda tag: hd.UID())
    return hd.sr.Comprehensive3DSR(
        evidence=list(source_images), content=content, series_instance_uid=seeded("sr-series"),
        series_number=series_number, sop_instance_uid=seeded("sr-sop"), instance_number=1,
        manufacturer="spinedetect", is_complete=True, series_description="spinedetect measurements")


def read_measurement_report(sr: Dataset) -> dict[str, Any]:
    """Read back what :func:`build_measurement_report` wrote: ``{"alert": str, "levels": {name: {...}}}``.

    Each level maps report.json keys to floats, and ``bilsky``/``genant`` to their grade strings/ints.
    """
    report = hd.sr.MeasurementReport.from_sequence([sr], is_root=True)
    by_concept = {concept.value: key for key, (concept, _) in LEVEL_MEASUREMENTS.items()}
    out: dict[str, Any] = {"alert": None, "levels": {}}
    for group in report.get_image_measurement_groups():
        ident = group.tracking_identifier
        values: dict[str, Any] = {}
        for m in group.get_measurements():
            values[by_concept[m.name.value]] = float(m.value)
        for q in group.get_qualitative_evaluations():
            code = q.value.value
            if q.name.value == BILSKY_CONCEPT.value:
                values["bilsky"] = code.split("-", 1)[1]
            elif q.name.value == GENANT_CONCEPT.value:
                values["genant"] = int(code.split("-", 1)[1])
            elif q.name.value == ALERT_CONCEPT.value:
                out["alert"] = code.split("-", 1)[1].lower()
        if ident != STUDY_GROUP_ID:
            out["levels"][ident] = values
    return out
