"""Choose the minimum lesion / tumour piece volumes (inference.min_*_mm3) on phantoms outside training and test.

Usage (from the repository root):
  python scripts/tune_postprocess.py [CHECKPOINT] [--phantoms 12] [--phantom-seed 300000] [--rows FILE]
                                    [--max-mm3 100] [--export WEIGHTS]
Predicts each phantom once (as the checkpoint ships it: its TTA setting, no post-processing), then scores
every candidate volume: Dice per case (cases with the class in neither reference nor prediction left out),
the mean, the mean over cases whose reference holds the class, and the cases with a false piece left.
Prints one JSON line with the table and, per class, the volume with the best mean Dice (the smaller on a
tie); ``--export`` writes CHECKPOINT's weights with those volumes as its inference settings (the file the
predictor loads). Training uses phantom seeds below 100000 and scripts/evaluate_model.py seeds from 200000:
the default seeds 300000+ are neither.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

CANDIDATES_MM3 = (0.0, 25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)
# Default at most 100 mm³ (12.5 voxels of the 2 mm model grid, a sphere 5.8 mm across): every phantom lesion
# is larger than 500 mm³, so larger candidates score well here and would drop small metastases in patients.
DEFAULT_MAX_MM3 = 100.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", default=None)
    parser.add_argument("--phantoms", type=int, default=12)
    parser.add_argument("--phantom-seed", type=int, default=300000)
    parser.add_argument("--rows", type=Path, default=None, help="also write every predicted piece to this JSON")
    parser.add_argument("--max-mm3", type=float, default=DEFAULT_MAX_MM3,
                        help=f"largest candidate volume (of {', '.join(f'{v:g}' for v in CANDIDATES_MM3)})")
    parser.add_argument("--export", type=Path, default=None,
                        help="write the checkpoint's weights with the chosen volumes to this file")
    args = parser.parse_args(argv)
    candidates = [v for v in CANDIDATES_MM3 if v <= args.max_mm3]
    import numpy as np
    import torch

    from spinedetect.labels import Label
    from spinedetect.model import Predictor, default_checkpoint
    from spinedetect.model.checkpoint import export_weights
    from spinedetect.model.postprocess import component_volumes, remove_small_components
    from spinedetect.training.config import SourceConfig, SourceKind
    from spinedetect.training.evaluation import summarise
    from spinedetect.training.metrics import dice
    from spinedetect.training.patches import make_adapter, select_cases

    torch.set_num_threads(2)
    predictor = Predictor.from_checkpoint(args.checkpoint, device="cpu")
    source = SourceConfig(kind=SourceKind.PHANTOM, count=args.phantoms, first_seed=args.phantom_seed)
    adapter = make_adapter(source)
    classes = {"osseous lesion": Label.OSSEOUS_LESION, "epidural tumour": Label.EPIDURAL_TUMOUR}
    rows = []
    pieces = []
    for case_id in select_cases(source, adapter):
        case = adapter.load(case_id)
        probs = predictor.predict_probabilities(case.image)
        labels = probs.argmax(axis=0).astype(np.uint8)
        truth = np.asarray(case.labels.array)
        voxel_mm3 = float(abs(np.linalg.det(case.image.affine[:3, :3])))
        for name, cls in classes.items():
            comp, volumes = component_volumes(labels == cls, voxel_mm3)
            hit = np.bincount(comp[truth == cls], minlength=len(volumes) + 1)[1:] > 0
            pieces += [{"case": case_id, "class": name, "mm3": round(float(v), 1), "overlaps_reference": bool(h)}
                       for v, h in zip(volumes, hit)]
            for limit in candidates:
                kept = remove_small_components(labels, probs, case.image.affine, {cls: limit})
                rows.append({"source": name, "case": case_id, "structure": str(limit),
                             "dice": dice(kept == cls, truth == cls), "in_truth": bool((truth == cls).any())})
        print(f"{case_id} done", file=sys.stderr)
    summary = summarise(rows)  # per class and candidate; a candidate with no scored case has mean None
    table = {name: {limit: summary.get(f"{name}/{limit}", {"mean": None, "n": 0}) for limit in candidates}
             for name in classes}
    best = {name: min(candidates, key=lambda v: (-(table[name][v]["mean"] or 0.0), v)) for name in classes}
    if args.rows:
        args.rows.write_text(json.dumps(pieces, indent=1) + "\n")
    result = {"model_sha256": predictor.model_sha256, "tta": predictor.tta, "phantom_seed": args.phantom_seed,
              "phantoms": args.phantoms, "dice_by_min_mm3": table, "best_min_mm3": best}
    if args.export:
        settings = {"min_lesion_mm3": best["osseous lesion"], "min_tumour_mm3": best["epidural tumour"]}
        result["exported"] = {"path": str(args.export), "inference": settings,
                              "sha256": export_weights(args.checkpoint or default_checkpoint(), args.export,
                                                       inference=settings)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
