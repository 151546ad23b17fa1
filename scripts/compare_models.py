"""Before/after table of two models from the repository's evaluations (campaign of issue 19).

Usage (from the repository root):
  python scripts/compare_models.py --real BEFORE/real_scans.json AFTER/real_scans.json \
      --dice BEFORE.json AFTER.json [--names shipped fine-tuned]
``--real``: the real_scans.json of ``spinedetect evaluate --real ... --out DIR`` (held-out studies);
``--dice``: the JSON line printed by ``python scripts/evaluate_model.py CKPT``. Prints a Markdown table:
false lesion/tumour pieces and volume, studies with lesion or tumour, urgent alerts, Dice per structure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

_REAL_TOTALS = (("false osseous lesion pieces", "lesion_pieces"), ("false osseous lesion mm³", "lesion_mm3"),
                ("false epidural tumour pieces", "tumour_pieces"), ("false epidural tumour mm³", "tumour_mm3"),
                ("studies with lesion", "studies_with_lesion"), ("studies with tumour", "studies_with_tumour"),
                ("studies with lesion or tumour", "studies_with_lesion_or_tumour"), ("urgent alerts", "urgent"),
                ("failed studies", "failed"))


def _cell(value: object) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if isinstance(value, float) and abs(value) < 10 else str(value)


def _rows(real: list[dict], dice: list[dict]) -> list[tuple[str, list[object]]]:
    rows: list[tuple[str, list[object]]] = []
    for label, key in _REAL_TOTALS:
        rows.append((f"real held-out: {label}", [r["totals"].get(key) for r in real]))
    for key in sorted({k for r in real for k in r["totals"]["dice_mean"]}):
        n = [r["totals"]["dice_n"].get(key) for r in real]
        rows.append((f"real held-out Dice {key} (n={n[0]})", [r["totals"]["dice_mean"].get(key) for r in real]))
    for key in sorted({k for d in dice for k in d["dice"]}):
        rows.append((f"evaluate_model Dice {key}", [d["dice"].get(key, {}).get("mean") for d in dice]))
        if key.startswith("phantom/") and ("lesion" in key or "tumour" in key):
            rows.append((f"  … false-positive cases", [d["dice"].get(key, {}).get("false_positive_cases")
                                                        for d in dice]))
            rows.append((f"  … mean on cases with it", [d["dice"].get(key, {}).get("mean_in_truth") for d in dice]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", nargs=2, type=Path, required=True)
    parser.add_argument("--dice", nargs=2, type=Path, required=True)
    parser.add_argument("--names", nargs=2, default=("before", "after"))
    args = parser.parse_args(argv)
    real = [json.loads(p.read_text()) for p in args.real]
    dice = [json.loads(p.read_text().strip().splitlines()[-1]) for p in args.dice]
    print(f"| figure | {args.names[0]} | {args.names[1]} |\n| --- | --- | --- |")
    for label, values in _rows(real, dice):
        print(f"| {label} | " + " | ".join(_cell(v) for v in values) + " |")
    print(f"\nmodels: {dice[0].get('model_sha256', '?')[:12]}… vs {dice[1].get('model_sha256', '?')[:12]}…")
    return 0


if __name__ == "__main__":
    sys.exit(main())
