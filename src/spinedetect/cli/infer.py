"""``spinedetect infer``: batch inference over a folder of DICOM studies or NIfTI/MHA files."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Callable

from spinedetect.batch.runner import BatchConfig, StudyResult, run_batch
from spinedetect.cli.common import CommandParser, add_common_options, run_command
from spinedetect.config import load_config
from spinedetect.errors import InputError
from spinedetect.io.modality import MODALITY_CHOICES

__all__ = ["get_parser", "main"]


def get_parser() -> CommandParser:
    parser = CommandParser(
        prog="spinedetect infer",
        description="Segment, measure and alert every study under INPUT; write per-study outputs, summary.csv, "
                    "manifest.json and a review page (index.html) under OUTPUT. Reruns skip complete studies. "
                    "Several machines or GPUs: torchrun --nproc-per-node K -m spinedetect infer ...")
    parser.add_argument("input", help="folder of DICOM studies (any layout) or NIfTI/MHA files, or one file")
    parser.add_argument("output", help="output folder (created if missing)")
    parser.add_argument("--model", default=None, help="model checkpoint (default: the shipped default model)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    parser.add_argument("--workers", type=int, default=0,
                        help="threads that read and write studies while the model runs (default: 0 = in turn)")
    parser.add_argument("--config", default=None, help="YAML batch settings (see configs/infer.yaml)")
    parser.add_argument("--no-dicom", action="store_true", help="do not write DICOM SEG/SR for DICOM studies")
    parser.add_argument("--show-identity", action="store_true",
                        help="show patient name and ID on the review page (hidden by default)")
    parser.add_argument("--modality", choices=MODALITY_CHOICES, default=None,
                        help="modality of every study: auto (default) = the DICOM or MetaImage header's, else inferred "
                             "from the voxel values (NIfTI, NRRD; the rule and its numbers go into study.json notes); "
                             "MR or CT overrides both")
    parser.add_argument("--level-hint", default=None,
                        help="name the levels of every study where neither sacrum nor conus is in view: "
                             "'lowest=L5' or 'highest=T10' (as spinedetect measure --level-hint)")
    parser.add_argument("--deidentify", action="store_true",
                        help="write DICOM SEG/SR de-identified by the DICOM basic profile (PS3.15 Annex E); "
                             "each study.json lists the attributes changed")
    add_common_options(parser)
    return parser


def _distributed(device: str) -> tuple[int, int, str, Callable[[bool], bool] | None]:
    """(rank, world size, device, all_ranks_ok) under torchrun; (0, 1, device, None) otherwise.

    ``all_ranks_ok(ok)`` is a collective: every rank passes whether its part succeeded and gets True
    only when all did (a MIN all-reduce; NCCL needs the flag on the rank's GPU).
    """
    from spinedetect.model.runtime import init_distributed

    rank, world, dev = init_distributed(device)
    if world <= 1:
        return 0, 1, str(dev), None
    import torch
    import torch.distributed as dist

    def all_ranks_ok(ok: bool) -> bool:
        flag = torch.tensor([int(ok)], dtype=torch.int32, device=dev)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item())

    return rank, world, str(dev), all_ranks_ok


def _run(args: argparse.Namespace) -> int:
    from spinedetect.model.predictor import Predictor

    if args.workers < 0:
        raise InputError("--workers must not be negative", expected="0 or more", found=str(args.workers))
    if not Path(args.input).exists():
        raise InputError(f"Input {args.input} does not exist", expected="a folder of studies or an image file",
                         found="no such path")
    cfg = load_config(BatchConfig, args.config)
    if args.no_dicom or args.show_identity or args.deidentify or args.modality or args.level_hint:
        from dataclasses import replace

        cfg = replace(cfg, write_dicom=cfg.write_dicom and not args.no_dicom,
                      show_identity=cfg.show_identity or args.show_identity,
                      deidentify=cfg.deidentify or args.deidentify, modality=args.modality or cfg.modality,
                      level_hint=args.level_hint or cfg.level_hint)
    rank, world, device, all_ranks_ok = _distributed(args.device)
    predictor = Predictor.from_checkpoint(args.model, device=device)
    show = not args.no_progress and rank == 0 and sys.stderr.isatty()
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(desc="studies", unit="study", file=sys.stderr, dynamic_ncols=True)

    def on_study(r: StudyResult) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{r.key}: {r.alert or r.status}")
        elif not args.no_progress and rank == 0:
            print(f"  {r.key}: {r.alert or r.status}" + (f" ({r.error})" if r.error else ""), file=sys.stderr)

    try:
        result = run_batch(args.input, args.output, predictor, config=cfg, workers=args.workers, rank=rank,
                           world_size=world, all_ranks_ok=all_ranks_ok, on_study=on_study)
    finally:
        if bar is not None:
            bar.close()
    if rank != 0:
        return result.exit_code
    counts = Counter((r.alert or "failed") if r.status == "ok" else "failed" for r in result.studies)
    print(f"{len(result.studies)} studies: {counts['urgent']} urgent, {counts['watch']} watch, "
          f"{counts['none']} none, {counts['failed']} failed; {len(result.skipped)} inputs skipped")
    for r in result.studies:
        if r.alert == "urgent":
            print(f"  URGENT {r.key}: {'; '.join(r.reasons[:2])}")
    out = result.output
    print(f"review page: {out / 'index.html'}")
    print(f"summary: {out / 'summary.csv'}   manifest: {out / 'manifest.json'}")
    if cfg.deidentify and cfg.write_dicom:
        print("DICOM SEG/SR de-identified (PS3.15 Annex E basic profile); each study.json lists the attributes "
              "changed; keep OUTPUT/.deidentify-key and .deidentify-sources.json private (they link the outputs "
              "to the source's UIDs and input paths)")
    return result.exit_code


def main(argv: list[str] | None = None) -> int:
    """Run ``spinedetect infer``; exit 0 all studies ok, 1 any failed, 2 bad arguments, input, model or unwritable output."""
    return run_command(get_parser(), argv, _run)
