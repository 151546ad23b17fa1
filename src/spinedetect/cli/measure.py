"""``spinedetect measure``: canal compromise, grades and the alert of one schema label map (NIfTI)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nibabel as nib
import numpy as np

from spinedetect.atomic import atomic_write_bytes
from spinedetect.alert import AlertConfig
from spinedetect.cli.common import CommandParser, add_common_options, run_command
from spinedetect.config import load_config
from spinedetect.errors import InputError
from spinedetect.measure import MeasureConfig, MeasurementReport, measure_labels

__all__ = ["get_parser", "main", "format_table", "write_json_atomic"]


def get_parser() -> CommandParser:
    """Argument parser of ``spinedetect measure``."""
    p = CommandParser(prog="spinedetect measure",
                      description="Measure canal compromise, cord compression, Bilsky, Genant and SINS imaging "
                                  "components on a spinedetect schema label map, and decide the alert.")
    p.add_argument("labels", type=Path, help="schema label map (NIfTI .nii/.nii.gz)")
    p.add_argument("--image", type=Path, default=None,
                   help="the image the labels belong to (same grid); with --modality CT lesions are typed "
                        "lytic/blastic/mixed")
    p.add_argument("--modality", choices=("CT", "MR"), default=None, help="modality of --image")
    p.add_argument("--out", type=Path, default=None, help="write the report here (JSON)")
    p.add_argument("--level-hint", default=None,
                   help="name the levels from the lowest or highest vertebra in view, e.g. 'lowest=L5' or "
                        "'highest=T10'; a hint always wins over the names read from the anatomy")
    p.add_argument("--config", type=Path, default=None, help="measurement settings (configs/measure.yaml)")
    p.add_argument("--alert-config", type=Path, default=None, help="alert thresholds (configs/alert.yaml)")
    add_common_options(p)
    return p


def _load(path: Path, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise InputError(f"The {what} file {path} does not exist", expected="a NIfTI file (.nii or .nii.gz)",
                         found="no file at that path", hint="Check the path")
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as exc:  # nibabel raises many types for unreadable files; report them as bad input
        raise InputError(f"The {what} file {path} cannot be read as NIfTI", expected="a NIfTI file",
                         found=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                         hint="Convert it to NIfTI first") from None
    data = np.squeeze(data) if data.ndim > 3 else data
    if data.ndim != 3:
        raise InputError(f"The {what} file {path} is not a 3-D volume", expected="3 dimensions",
                         found=f"shape {data.shape}")
    return data, np.asarray(img.affine, dtype=np.float64)


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write ``payload`` as JSON to ``path`` atomically (temp file in the same folder, then rename)."""
    atomic_write_bytes(path, (json.dumps(payload, indent=2, allow_nan=False) + "\n").encode("utf-8"))


def _fmt(x: object, nd: int = 0) -> str:
    if isinstance(x, float):
        return f"{round(x, nd) + 0.0:.{nd}f}"  # + 0.0 turns -0.0 into 0.0
    return "-" if x is None else str(x)


def format_table(report: MeasurementReport) -> str:
    """Short text table of a report: one row per level, then the alert and its reasons."""
    head = f"{'level':<6} {'canal mm2':>9} {'compromise %':>12} {'cord compr. %':>13} {'Bilsky':>6} {'Genant':>6}"
    rows = [head, "-" * len(head)]
    for lv in report.levels:
        rows.append(f"{lv['name']:<6} {_fmt(lv['canal_area_mm2']):>9} {_fmt(lv['canal_compromise_pct']):>12} "
                    f"{_fmt(lv['cord_compression_pct']):>13} {_fmt(lv['bilsky']):>6} {_fmt(lv['genant']):>6}")
    alert = report.alert
    rows.append("")
    rows.append(f"alert: {alert.level.value.upper()}" + (f" (worst level {alert.worst_level})" if alert.worst_level else ""))
    rows.extend(f"  - {r}" for r in alert.reasons)
    rows.append(f"levels named by: {report.naming['rule']} (confidence {report.naming['confidence']:.2f})"
                + ("; names ending in ? are uncertain" if any(str(lv["name"]).endswith("?") for lv in report.levels)
                   else ""))
    return "\n".join(rows)


def _run(args: argparse.Namespace) -> int:
    cfg = load_config(MeasureConfig, args.config)
    alert_cfg = load_config(AlertConfig, args.alert_config)
    labels, affine = _load(args.labels, "label map")
    image = None
    if args.image is not None:
        image, img_affine = _load(args.image, "image")
        if image.shape != labels.shape or not np.allclose(img_affine, affine, atol=1e-3):
            raise InputError("Image and label map are not on the same grid",
                             expected=f"shape {labels.shape} and the label map's affine",
                             found=f"shape {image.shape}", hint="Give the image the labels were drawn on")
    report = measure_labels(labels, affine, image=image, config=cfg, alert_config=alert_cfg,
                            level_hint=args.level_hint, modality=args.modality)
    print(format_table(report))
    if args.out is not None:
        write_json_atomic(args.out, report.to_dict())
        print(f"report written to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``spinedetect measure`` with ``argv``; returns the exit status (2 on bad input)."""
    return run_command(get_parser(), argv, _run)
