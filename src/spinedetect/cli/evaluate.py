"""``spinedetect evaluate``: score predictions against truth and write tables and plots."""

from __future__ import annotations

import argparse
import fnmatch
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
    parser.add_argument("--pred", type=Path, metavar="DIR", help="folder of predictions")
    parser.add_argument("--truth", type=Path, metavar="DIR", help="folder of truth")
    parser.add_argument("--real", type=Path, metavar="DATA", nargs="?", const=Path("../shared/data"),
                        help="instead of --pred/--truth: run every real spine study under DATA (default "
                             "../shared/data) through 'spinedetect infer' as one batch and score it: alerts, "
                             "false lesions/tumour, level naming, Dice (all real studies are metastasis-free)")
    parser.add_argument("--model", default=None, help="with --real: model checkpoint (default: the shipped model)")
    parser.add_argument("--device", default="cpu", help="with --real: cpu, auto or cuda[:N] (default: cpu)")
    parser.add_argument("--studies", default=None, metavar="NAMES",
                        help="with --real: comma-separated study names or globs (default: all), e.g. 'VB3_*,sct_t2'")
    parser.add_argument("--rescore", action="store_true",
                        help="with --real: score the outputs of an earlier run in OUT/infer again, without running "
                             "the pipeline")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (default: <pred>_evaluation beside the prediction folder; with "
                             "--real: real-scans-evaluation)")
    parser.add_argument("--truth-format", default="auto", choices=["auto", *(f.value for f in TruthFormat)],
                        help="layout and label values of --truth (default: guessed from file names)")
    add_common_options(parser)
    return parser


def _run_real(args: argparse.Namespace) -> int:
    from spinedetect.cli import infer
    from spinedetect.evaluate.real_scans import evaluate_real

    out = args.out if args.out is not None else Path("real-scans-evaluation")
    patterns = [p.strip() for p in (args.studies or "*").split(",") if p.strip()]

    def run_infer(input_dir: Path, infer_dir: Path) -> int:
        argv = [str(input_dir), str(infer_dir), "--device", args.device]
        argv += ["--model", args.model] if args.model else []
        return infer.main(argv + (["--no-progress"] if args.no_progress else []))

    scores, t = evaluate_real(args.real, out, None if args.rescore else run_infer,
                              select=lambda st: any(fnmatch.fnmatch(st.name, p) for p in patterns))
    print(f"real scans: {t['studies']} studies ({t['failed']} failed): {t['urgent']} urgent, {t['watch']} watch, "
          f"{t['none']} none (all are false alarms: every study is metastasis-free)")
    print(f"  false osseous lesion: {t['lesion_pieces']} pieces, {t['lesion_mm3']:.0f} mm3 in "
          f"{t['studies_with_lesion']} studies; false epidural tumour: {t['tumour_pieces']} pieces, "
          f"{t['tumour_mm3']:.0f} mm3 in {t['studies_with_tumour']} studies")
    if t["levels_known"]:
        print(f"  level naming: {t['levels_right']} of {t['levels_known']} known vertebrae right "
              f"({t['levels_right_pct']} %), {t['levels_unnamed']} left unnamed (V1..Vn), "
              f"{t['levels_wrong_unmarked']} wrong names not marked uncertain; by collection: "
              + ", ".join(f"{c} {r}/{k}" for c, (r, k) in t["levels_by_collection"].items()))
    for key, value in t["dice_mean"].items():
        print(f"  Dice {key}: {value:.3f} (n={t['dice_n'][key]})")
    print(f"  time: {t['seconds_total']} s, {t['seconds_mean']} s per study")
    print(f"  per study: {out / 'real_scans.md'}   review page: {out / 'infer' / 'index.html'}")
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.real is not None:
        if args.pred is not None or args.truth is not None:
            raise InputError("--real cannot be combined with --pred/--truth", expected="either --real or both "
                             "--pred and --truth", found="both", hint="Drop --pred/--truth to run the real scans")
        return _run_real(args)
    if args.pred is None or args.truth is None:
        raise InputError("Nothing to evaluate", expected="--pred DIR and --truth DIR, or --real [DATA]",
                         found=f"--pred {args.pred} --truth {args.truth}",
                         hint="See 'spinedetect evaluate --help'")
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
