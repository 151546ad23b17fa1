"""``spinedetect phantom``: generate spine phantoms with exact truth (NIfTI and/or DICOM)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from spinedetect.cli.common import CommandParser, add_common_options, progress, run_command
from spinedetect.config import load_config
from spinedetect.errors import InputError
from spinedetect.phantom import PhantomConfig, generate_phantom, write_phantom

__all__ = ["get_parser", "main", "case_id", "FORMAT_CHOICES"]

FORMAT_CHOICES = {"nifti": ("nifti",), "dicom": ("dicom",), "both": ("nifti", "dicom")}


def case_id(seed: int) -> str:
    """Folder name of the phantom with ``seed`` (e.g. ``phantom-0007``)."""
    return f"phantom-{seed:04d}"


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, found {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, found {value}")
    return value


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a positive integer, found 0")
    return value


def get_parser() -> CommandParser:
    parser = CommandParser(prog="spinedetect phantom",
                           description="Generate spine phantoms (image, schema label map, truth.json) with "
                                       "metastases, epidural tumour and collapse. Same seed, same bytes.")
    parser.add_argument("--out", required=True, type=Path, help="output folder (one sub-folder per phantom)")
    parser.add_argument("--n", type=_positive, default=1, help="number of phantoms (default 1)")
    parser.add_argument("--seed", type=_non_negative, default=0, help="seed of the first phantom; the next ones "
                        "use seed+1, seed+2, ... (default 0)")
    parser.add_argument("--modality", choices=("mr", "ct"), default=None,
                        help="override the configured modality (MR default: sagittal; CT: axial)")
    parser.add_argument("--format", choices=tuple(FORMAT_CHOICES), default="nifti",
                        help="nifti (image.nii.gz + labels.nii.gz), dicom (dicom/*.dcm) or both; "
                             "truth.json is always written")
    parser.add_argument("--config", type=Path, default=None, help="phantom YAML (default: built-in defaults, "
                        "the same as configs/phantom.yaml)")
    add_common_options(parser)
    return parser


def _run(args: argparse.Namespace) -> int:
    cfg = load_config(PhantomConfig, args.config)
    if args.modality is not None:
        cfg = dataclasses.replace(cfg, imaging=dataclasses.replace(cfg.imaging, modality=args.modality.upper()))
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise InputError(f"Output path {out} is a file", expected="a folder (created if missing)",
                         found="an existing file", hint="Choose another --out")
    rows = []
    for seed in progress(range(args.seed, args.seed + args.n), enabled=not args.no_progress, desc="phantoms",
                         total=args.n, unit="phantom"):
        ph = generate_phantom(cfg, seed)
        case = out / case_id(seed)
        write_phantom(ph, case, FORMAT_CHOICES[args.format])
        rows.append((case, ph.truth.alert["level"], ph.truth.alert["worst_level"]))
    for case, level, worst in rows:
        print(f"{case}  alert={level}" + (f" ({worst})" if worst else ""))
    print(f"{len(rows)} phantom(s) written to {out.resolve()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``spinedetect phantom`` with ``argv``; returns the exit status."""
    return run_command(get_parser(), argv, _run)
