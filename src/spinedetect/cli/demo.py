"""``spinedetect demo``: the main job on built-in defaults.

Makes a small mixed set of phantom studies (MR urgent / watch / clean, CT axial) as DICOM with their
truth and preview pictures, runs batch inference with the shipped model over the DICOM studies exactly
as ``spinedetect infer`` does, and says where the review page and the alerts are, next to the alert each
phantom should have raised.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path
from typing import Sequence

from spinedetect.cli.common import CommandParser, add_common_options, progress, run_command
from spinedetect.errors import InputError
from spinedetect.phantom import (AnatomyConfig, ImagingConfig, LesionSpec, PathologyConfig, PhantomConfig,
                                 generate_phantom, write_phantom)
from spinedetect.phantom.preview import write_previews

__all__ = ["get_parser", "main", "DEMO_CASES", "make_demo_studies"]

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
                                       "as DICOM studies with truth and previews, run the shipped model over them "
                                       "(spinedetect infer) and print where the review page and the alerts are.")
    parser.add_argument("--out", type=Path, default=Path("spinedetect-demo"),
                        help="output folder (default: ./spinedetect-demo)")
    parser.add_argument("--model", default=None, help="model checkpoint (default: the shipped default model)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    parser.add_argument("--phantoms-only", action="store_true", help="only make the phantom studies, no inference")
    add_common_options(parser)
    return parser


def make_demo_studies(out: Path, cases: Sequence[tuple[str, int, PhantomConfig]] = DEMO_CASES, *,
                      show_progress: bool = False) -> list[tuple[str, dict]]:
    """Phantoms under out/phantoms/<name>/ (NIfTI, truth, previews), their DICOM under out/studies/<name>/.

    ``cases`` are (folder name, seed, config) like :data:`DEMO_CASES`; returns (name, truth alert) pairs.
    """
    made = []
    for name, seed, cfg in progress(cases, enabled=show_progress, desc="demo phantoms",
                                    total=len(cases), unit="phantom"):
        ph = generate_phantom(cfg, seed)
        case = out / "phantoms" / name
        written = write_phantom(ph, case, ("nifti", "dicom"))
        study = out / "studies" / name
        shutil.rmtree(study, ignore_errors=True)
        study.parent.mkdir(parents=True, exist_ok=True)
        os.replace(written["dicom"], study)
        write_previews(ph, case, prefix=f"{name}  ")
        made.append((name, ph.truth.alert))
    return made


def _run(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise InputError(f"Output path {out} is a file", expected="a folder (created if missing)",
                         found="an existing file", hint="Choose another --out")
    start = time.monotonic()
    made = make_demo_studies(out, show_progress=not args.no_progress)
    print(f"spinedetect demo: {len(made)} phantom studies in {(out / 'studies').resolve()} "
          f"(truth and previews in {(out / 'phantoms').resolve()}, {time.monotonic() - start:.0f} s)")
    if args.phantoms_only:
        for name, alert in made:
            print(f"  {name}: expected alert {alert['level'].upper()}")
        return 0
    from spinedetect.batch import run_batch
    from spinedetect.io import discover_series
    from spinedetect.model import Predictor

    predictor = Predictor.from_checkpoint(args.model, device=args.device)
    start = time.monotonic()
    result = run_batch(out / "studies", out / "results", predictor,
                       on_study=None if args.no_progress else
                       (lambda r: print(f"  inferred {r.key}: {r.alert or r.status}", flush=True)))
    by_key = {r.key: r for r in result.studies}
    print(f"inference with {predictor.source} ({time.monotonic() - start:.0f} s):")
    for name, expected in made:
        key = discover_series(out / "studies" / name).studies[0].key
        r = by_key.get(key)
        found = (r.alert or r.status).upper() if r is not None else "MISSING"
        reason = r.reasons[0] if r is not None and r.reasons else (r.error if r is not None and r.error else "")
        print(f"  {name} ({key}): spinedetect says {found}, the phantom truth says {expected['level'].upper()}"
              + (f"  [{reason}]" if reason else ""))
    results = (out / "results").resolve()
    print(f"review page (open in a browser): {results / 'index.html'}")
    print(f"alerts per study: {results / 'summary.csv'}  (reasons in {results}/<study>/report.json)")
    return result.exit_code


def main(argv: list[str] | None = None) -> int:
    """Run ``spinedetect demo`` with ``argv``; returns the exit status."""
    return run_command(get_parser(), argv, _run)
