"""``spinedetect convert INPUT OUTPUT.nii.gz [--series UID]``: any supported image to NIfTI with its true affine."""

from __future__ import annotations

import argparse
from pathlib import Path

from spinedetect.cli.common import CommandParser, add_common_options, run_command
from spinedetect.config import load_config
from spinedetect.io import IOConfig, load_volume, write_nifti

__all__ = ["get_parser", "main"]


def get_parser() -> CommandParser:
    """Arguments of ``spinedetect convert``."""
    parser = CommandParser(
        prog="spinedetect convert",
        description="Convert a DICOM folder or file (its whole series), NIfTI, MHA/MHD or NRRD to NIfTI, "
                    "keeping the world geometry (RAS+ affine in qform and sform).")
    parser.add_argument("input", type=Path, help="DICOM folder, one DICOM file, .nii/.nii.gz, .mha/.mhd/.nrrd")
    parser.add_argument("output", type=Path, help="output .nii or .nii.gz")
    parser.add_argument("--series", metavar="UID", default=None,
                        help="SeriesInstanceUID (or image key UID#suffix) when the input holds several series")
    parser.add_argument("--config", type=Path, default=None, help="io settings YAML (default: built-in, "
                        "as configs/io.yaml)")
    add_common_options(parser)
    return parser


def _run(args: argparse.Namespace) -> int:
    config = load_config(IOConfig, args.config)
    volume = load_volume(args.input, series_uid=args.series, limits=config.limits, rules=config.assembly)
    out = write_nifti(volume, args.output)
    size = "x".join(str(s) for s in volume.shape)
    spacing = "x".join(f"{s:.3g}" for s in volume.spacing)
    print(f"wrote {out} ({size} voxels of {spacing} mm, {volume.orientation}, {volume.array.dtype}"
          f"{', ' + str(len(volume.notes)) + ' note(s), see warnings' if volume.notes else ''})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``spinedetect convert``; exit 0 on success, 2 with one stderr line for bad input."""
    return run_command(get_parser(), argv, _run)
