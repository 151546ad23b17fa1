"""``spinedetect train``: train a segmentation model from a YAML config (single process or torchrun)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from spinedetect.cli.common import CommandParser, add_common_options, run_command

__all__ = ["get_parser", "main"]


def get_parser() -> CommandParser:
    """Arguments of ``spinedetect train``."""
    parser = CommandParser(prog="spinedetect train",
                           description="Train a spine segmentation model (partial-label loss over data sets). "
                                       "Distributed: torchrun --nproc-per-node K -m spinedetect train ...")
    parser.add_argument("--config", required=True, type=Path, help="training YAML, e.g. configs/train/default.yaml")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda[:N]")
    parser.add_argument("--resume", type=Path, default=None, help="checkpoint to continue from")
    parser.add_argument("--init-weights", type=Path, default=None, metavar="CKPT",
                        help="start from this checkpoint's network weights (fine-tuning: fresh optimiser and "
                             "schedule; its sha256 is recorded as the parent)")
    parser.add_argument("--out", type=Path, default=Path("out/train"), help="output folder (default out/train)")
    parser.add_argument("--steps", type=int, default=None, help="override optim.steps")
    parser.add_argument("--max-minutes", type=float, default=None, help="override max_minutes (stop early)")
    add_common_options(parser)
    return parser


def _run(args: argparse.Namespace) -> int:
    import dataclasses

    from spinedetect.config import load_config
    from spinedetect.training.config import TrainConfig
    from spinedetect.training.trainer import StepInfo, train

    from spinedetect.model.runtime import resolve_device

    resolve_device(args.device)  # a bad --device fails here, before any data is read
    config = load_config(TrainConfig, args.config)
    if args.steps is not None:
        config = dataclasses.replace(config, optim=dataclasses.replace(config.optim, steps=args.steps))
    if args.max_minutes is not None:
        config = dataclasses.replace(config, max_minutes=args.max_minutes)
    show = not args.no_progress and os.environ.get("RANK", "0") == "0"
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=config.optim.steps, desc="train", unit="step", file=sys.stderr, dynamic_ncols=True)

    def on_step(info: StepInfo) -> None:
        if bar is not None:
            bar.n = info.step
            bar.set_postfix(loss=f"{info.loss:.4f}", patches_per_s=f"{info.patches_per_s:.2f}")

    try:
        result = train(config, args.out, device=args.device, resume=args.resume,
                       init_weights=args.init_weights, on_step=on_step)
    finally:
        if bar is not None:
            bar.close()
    if os.environ.get("RANK", "0") == "0":
        print(f"trained to step {result.step}; checkpoint {result.checkpoint}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``spinedetect train``; returns the exit status."""
    return run_command(get_parser(), argv, _run)
