"""Evaluate a checkpoint on held-out data; prints per-structure Dice as JSON (thin wrapper).

Usage (from the repository root):
  python scripts/evaluate_model.py [CHECKPOINT] [--phantoms N] [--phantom-seed S] [--tta | --no-tta]
  python scripts/evaluate_model.py [CHECKPOINT] --grid-ceiling
Default checkpoint: the shipped default model. Held-out sets: the real MRI test split, the real cervical
cord cases, and N phantoms from seed S (never used in training: training uses seeds below 100000).
--grid-ceiling scores the reference itself sent through the checkpoint's model grid and back: the Dice
no model on that grid can exceed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", default=None)
    parser.add_argument("--phantoms", type=int, default=12)
    parser.add_argument("--phantom-seed", type=int, default=200000)
    parser.add_argument("--shared-data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                        help="mirrored test-time augmentation on/off (default: as the model ships it)")
    parser.add_argument("--grid-ceiling", action="store_true",
                        help="score the reference through the model grid and back instead of the model")
    parser.add_argument("--rows", type=Path, default=None, help="also write per-case rows to this JSON file")
    args = parser.parse_args()
    import torch

    from spinedetect.model import Predictor
    from spinedetect.training.config import SourceConfig, SourceKind
    from spinedetect.training.evaluation import evaluate_sources, grid_ceiling, summarise

    torch.set_num_threads(2)
    data = Path(args.shared_data)
    sources = [SourceConfig(kind=SourceKind.REAL_MRI_VB, root=str(data / "real-mri-vb"),
                            split_file=str(REPO / "configs" / "splits" / "real_mri_vb.json"), subset="test"),
               SourceConfig(kind=SourceKind.REAL_CORD, root=str(data / "real-cord"))]
    if args.phantoms > 0:
        sources.append(SourceConfig(kind=SourceKind.PHANTOM, count=args.phantoms, first_seed=args.phantom_seed))
    predictor = Predictor.from_checkpoint(args.checkpoint, device="cpu", tta=args.tta)
    if args.grid_ceiling:
        rows = grid_ceiling(predictor.config.preprocess, tuple(sources))
        what = {"grid_ceiling_mm": list(predictor.config.preprocess.spacing_mm)}
    else:
        rows = evaluate_sources(predictor, tuple(sources))
        what = {"tta": predictor.tta}
    if args.rows:
        args.rows.write_text(json.dumps(rows, indent=1) + "\n")
    print(json.dumps({"model_sha256": predictor.model_sha256, **what, "dice": summarise(rows)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
