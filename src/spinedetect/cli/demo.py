"""``spinedetect demo``: the main job on built-in defaults (for now: a small phantom set with previews)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from spinedetect.cli.common import CommandParser, add_common_options, progress, run_command
from spinedetect.errors import InputError
from spinedetect.phantom import (AnatomyConfig, ImagingConfig, LesionSpec, PathologyConfig, PhantomConfig,
                                 generate_phantom, write_phantom)
from spinedetect.phantom.preview import write_previews

__all__ = ["get_parser", "main", "DEMO_CASES"]

#: (folder, seed, config) of the demo set: an urgent, a watch and a clean MR study, and a CT study.
DEMO_CASES: tuple[tuple[str, int, PhantomConfig], ...] = (
    ("mr-t2-sagittal-urgent", 11, PhantomConfig(
        anatomy=AnatomyConfig(first_level="T10", last_level="S1"),
        pathology=PathologyConfig(lesions=(LesionSpec(level="T12", site="body", type="lytic", bilsky="3",
                                                      radius_mm=9.0),
                                           LesionSpec(level="L4", site="body", type="blastic", radius_mm=6.0))),
        imaging=ImagingConfig(modality="MR", contrast="T2", sagittal_spacing_mm=(1.0, 1.0, 4.0)))),
    ("mr-t1-sagittal-watch", 12, PhantomConfig(
        anatomy=AnatomyConfig(first_level="T11", last_level="S1"),
        pathology=PathologyConfig(lesions=(LesionSpec(level="L2", site="body", type="lytic", genant=2,
                                                      radius_mm=10.0),
                                           LesionSpec(level="L4", site="right_posterior", type="mixed",
                                                      bilsky="1a", radius_mm=7.0))),
        imaging=ImagingConfig(modality="MR", contrast="T1", sagittal_spacing_mm=(1.0, 1.0, 4.0)))),
    ("mr-stir-sagittal-clean", 13, PhantomConfig(
        anatomy=AnatomyConfig(first_level="T10", last_level="S1"),
        pathology=PathologyConfig(p_clean=1.0),
        imaging=ImagingConfig(modality="MR", contrast="STIR", sagittal_spacing_mm=(1.0, 1.0, 4.0)))),
    ("ct-axial", 14, PhantomConfig(
        anatomy=AnatomyConfig(first_level="L1", last_level="S1"),
        pathology=PathologyConfig(lesions=(LesionSpec(level="L3", site="left_posterior", type="lytic", bilsky="1b",
                                                      radius_mm=8.0),
                                           LesionSpec(level="L1", site="body", type="blastic", radius_mm=9.0))),
        imaging=ImagingConfig(modality="CT", acquisition="axial", axial_spacing_mm=(1.0, 1.0, 3.0),
                              max_oblique_deg=5.0))),
)


def get_parser() -> CommandParser:
    parser = CommandParser(prog="spinedetect demo",
                           description="Generate a small mixed phantom set (MR urgent / watch / clean, CT axial) "
                                       "as NIfTI + DICOM with preview pictures, and print each expected alert.")
    parser.add_argument("--out", type=Path, default=Path("spinedetect-demo"),
                        help="output folder (default: ./spinedetect-demo)")
    add_common_options(parser)
    return parser


def _run(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise InputError(f"Output path {out} is a file", expected="a folder (created if missing)",
                         found="an existing file", hint="Choose another --out")
    start = time.monotonic()
    lines = []
    for name, seed, cfg in progress(DEMO_CASES, enabled=not args.no_progress, desc="demo phantoms",
                                    total=len(DEMO_CASES), unit="phantom"):
        ph = generate_phantom(cfg, seed)
        case = out / name
        write_phantom(ph, case, ("nifti", "dicom"))
        pngs = write_previews(ph, case, prefix=f"{name}  ")
        alert = ph.truth.alert
        reason = alert["reasons"][0] if alert["reasons"] else "no finding"
        lines.append(f"{name}: expected alert {alert['level'].upper()}  ({reason})")
        lines.extend(f"    preview {p}" for p in pngs)
    print(f"spinedetect demo: {len(DEMO_CASES)} phantoms (NIfTI + DICOM + truth.json) in {out.resolve()} "
          f"({time.monotonic() - start:.0f} s)")
    for line in lines:
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``spinedetect demo`` with ``argv``; returns the exit status."""
    return run_command(get_parser(), argv, _run)
