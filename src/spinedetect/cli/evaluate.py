"""``spinedetect evaluate``: score predictions against truth and write tables and plots."""

from __future__ import annotations

import argparse
from pathlib import Path

from spinedetect.cli.common import CommandParser, add_common_options, progress, run_command
from spinedetect.errors import InputError
from spinedetect.evaluate import TruthFormat, evaluate_folders, write_evaluation

__all__ = ["get_parser", "main"]


def get_parser() -> CommandParser:
    """Parser of ``spinedetect evaluate``."""
    parser = CommandParser(
        prog="spinedetect evaluate",
        description="Score predicted label maps (and report.json files) against truth: Dice and 95 % "
                    "Hausdorff per class, lesion detection, canal compromise, Bilsky, Genant and alert "
                    "agreement. Writes evaluation.json, evaluation.md and PNG plots.",
        epilog="Cases pair by name: DIR/<case>/labels.nii.gz (report.json / truth.json beside it) or flat "
               "DIR/<case>_labels.nii.gz; real-data truth keeps its own names (<case>_vb.nii.gz, "
               "<case>_seg-manual.nii.gz, <case>_spine_labels.nii.gz). Predictions on another grid are "
               "resampled onto the truth grid (nearest neighbour, world space).")
    parser.add_argument("--pred", required=True, type=Path, metavar="DIR", help="folder of predictions")
    parser.add_argument("--truth", required=True, type=Path, metavar="DIR", help="folder of truth")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (default: <pred>_evaluation beside the prediction folder)")
    parser.add_argument("--truth-format", default="auto", choices=["auto", *(f.value for f in TruthFormat)],
                        help="layout and label values of --truth (default: guessed from file names)")
    add_common_options(parser)
    return parser


def _run(args: argparse.Namespace) -> int:
    for flag, folder in (("--pred", args.pred), ("--truth", args.truth)):
        if not folder.is_dir():
            raise InputError(f"{flag} folder {folder} does not exist", expected="a folder",
                             found="nothing at that path" if not folder.exists() else "a file",
                             hint=f"Check the path given to {flag}")
    out = args.out if args.out is not None else args.pred.parent / f"{args.pred.name}_evaluation"
    result = evaluate_folders(args.pred, args.truth, args.truth_format,
                              on_case=lambda names: progress(names, enabled=not args.no_progress,
                                                             desc="evaluate", unit="case"))
    write_evaluation(result, out)
    doc_summary = result.segmentation_summary()
    print(f"evaluated {len(result.cases)} case(s) ({result.truth_format} truth) -> {out}")
    for s in doc_summary.values():
        if s["dice_mean"] is not None:
            print(f"  {s['title']}: Dice mean {s['dice_mean']:.3f}, median {s['dice_median']:.3f}")
    for label, names in (("truth without prediction", result.missing_predictions),
                         ("predictions without truth", result.unmatched_predictions),
                         ("skipped", list(result.skipped))):
        if names:
            print(f"  {label}: {', '.join(names)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``spinedetect evaluate`` with ``argv``; returns the exit status (2 on bad input)."""
    return run_command(get_parser(), argv, _run)
