"""Write an evaluation: evaluation.json, evaluation.md (tables) and PNG plots (matplotlib, Agg)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable

import numpy as np

from spinedetect.atomic import atomic_path
from spinedetect.evaluate.core import RULES, EvaluationResult

__all__ = ["write_evaluation", "render_markdown"]

log = logging.getLogger(__name__)


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through a temporary file in the same folder, then rename it over ``path``."""
    with atomic_path(path) as tmp:
        write(tmp)
    return path


def _fmt(x: object, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return lines + [""]


def render_markdown(doc: dict) -> str:
    """Markdown tables of an evaluation (the dict of :meth:`EvaluationResult.to_dict`)."""
    out = ["# spinedetect evaluation", "",
           f"- predictions: `{doc['pred_dir']}`", f"- truth: `{doc['truth_dir']}` (format `{doc['truth_format']}`)",
           f"- cases scored: {doc['n_cases']}",
           f"- truth without prediction: {', '.join(doc['missing_predictions']) or 'none'}",
           f"- predictions without truth: {', '.join(doc['unmatched_predictions']) or 'none'}",
           f"- skipped: {', '.join(f'{k} ({v})' for k, v in doc['skipped'].items()) or 'none'}", "",
           "## Segmentation", ""]
    seg = doc["segmentation"]
    rows = []
    for key, s in seg.items():
        wd, wh = s["dice_worst"], s["hd95_mm_worst"]
        rows.append([s["title"], s["n_scored"], s["n_absent"], s["n_missed"], s["n_spurious"], s["dice_mean"],
                     s["dice_median"], f"{wd['value']:.3f} ({wd['case']})" if wd else None, s["hd95_mm_mean"],
                     s["hd95_mm_median"], f"{wh['value']:.1f} ({wh['case']})" if wh else None])
    out += _table(["class", "scored", "absent", "missed", "spurious", "Dice mean", "Dice median", "worst Dice",
                   "HD95 mean (mm)", "HD95 median (mm)", "worst HD95 (mm)"], rows)
    keys = list(seg)
    out += ["### Dice per case", ""]
    out += _table(["case", *keys], [[c, *[v["classes"][k]["dice"] if k in v["classes"] else None for k in keys]]
                                    for c, v in doc["cases"].items()])
    if doc["detection"]:
        out += ["## Lesion detection", "", f"Rule: {RULES['detection']}.", ""]
        out += _table(["class", "studies", "true lesions", "detected", "sensitivity", "false positives / study",
                       "studies with missed lesions"],
                      [[k, d["n_studies"], d["n_true"], d["n_detected"], d["sensitivity"],
                        d["false_positives_per_study"], ", ".join(d["studies_with_missed_lesions"]) or "none"]
                       for k, d in doc["detection"].items()])
        for k, d in doc["detection"].items():
            if d["per_level"]:
                out += [f"Per level ({k}; {RULES['detection_per_level']}):", ""]
                out += _table(["level", "true", "detected", "sensitivity"],
                              [[lv, r["n_true"], r["n_detected"], r["sensitivity"]] for lv, r in d["per_level"].items()])
    m = doc.get("measurements")
    if m:
        cc, wl, b, g, a = m["canal_compromise"], m["worst_level"], m["bilsky"], m["genant"], m["alert"]
        out += ["## Measurements and alert", "", f"Cases with report.json and truth.json: {m['n_cases']}; "
                f"with truth.json but no report.json: "
                f"{', '.join(doc['cases_with_truth_json_but_no_report']) or 'none'}.", ""]
        out += _table(["measure", "n", "mean", "median", "max"],
                      [["canal compromise abs. error (pp)", cc["abs_error"]["n"], cc["abs_error"]["mean"],
                        cc["abs_error"]["median"], cc["abs_error"]["max"]],
                       ["cord compression abs. error (pp)", *m["cord_compression"]["abs_error"].values()],
                       ["worst-level position error (mm)", *wl["position_error_mm"].values()]])
        if cc["worst"]:
            w = cc["worst"]
            out += [f"Largest compromise error: {w['case']} {w['level']} (truth {w['truth_pct']:.1f} %, "
                    f"predicted {w['pred_pct']:.1f} %).", ""]
        hits = sum(r["hit"] for r in wl["cases"])
        out += [f"Worst level named correctly: {hits} of {wl['n_cases']} cases (hit rate {_fmt(wl['hit_rate'])}).", "",
                f"### Bilsky (levels graded by both: {b['n_levels']}; linearly weighted kappa "
                f"{_fmt(b['linear_weighted_kappa'])}; exact agreement {_fmt(b['exact_agreement'])})", "",
                "Rows truth, columns prediction. Graded by truth only: "
                f"{b['graded_by_truth_only']}; by prediction only: {b['graded_by_prediction_only']}.", ""]
        out += _table(["truth \\ pred", *b["categories"]], [[c, *r] for c, r in zip(b["categories"], b["confusion"])])
        st = b["study"]
        out += [f"Per study (highest grade over the levels; {st['n_cases']} cases): linearly weighted kappa "
                f"{_fmt(st['linear_weighted_kappa'])}, exact agreement {_fmt(st['exact_agreement'])}.", ""]
        out += [f"### Genant (levels: {g['n_levels']}; exact agreement {_fmt(g['exact_agreement'])}; "
                f"within one grade {_fmt(g['within_one_grade'])})", ""]
        out += _table(["truth \\ pred", *g["categories"]], [[c, *r] for c, r in zip(g["categories"], g["confusion"])])
        out += [f"### Alert ({a['n_cases']} cases)", ""]
        out += _table(["truth \\ pred", *a["categories"]], [[c, *r] for c, r in zip(a["categories"], a["confusion"])])
        out += _table(["positive class", "sensitivity", "specificity", "positives", "negatives"],
                      [["urgent or watch (vs none)", *a["any_alert"].values()],
                       ["urgent (vs watch or none)", *a["urgent"].values()]])
        missed = ", ".join(f"{r['case']} (predicted {r['predicted']})" for r in a["urgent_missed"])
        out += [f"Urgent cases missed: {missed or 'none'}.", ""]
    elif doc.get("measurement_error"):
        out += ["## Measurements and alert", "", f"Not computed: {doc['measurement_error']}", ""]
    out += ["## Rules", ""] + [f"- {k}: {v}" for k, v in doc["rules"].items()] + [""]
    return "\n".join(out)


def _plots(doc: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []

    def save(fig: "plt.Figure", name: str) -> None:
        written.append(_atomic(out_dir / name, lambda p: fig.savefig(p, format="png", dpi=120,
                                                                    bbox_inches="tight")))
        plt.close(fig)

    seg = doc["segmentation"]
    data = [(s["title"], [c["classes"][k]["dice"] for c in doc["cases"].values()
                          if k in c["classes"] and c["classes"][k]["dice"] is not None])
            for k, s in seg.items()]
    data = [(t, v) for t, v in data if v]
    if data:
        fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(data) + 2), 4.5))
        ax.boxplot([v for _, v in data], showfliers=False)
        rng = np.random.default_rng(0)
        for i, (_, v) in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.12, 0.12, len(v)), v, s=14, alpha=0.7, color="tab:blue", zorder=3)
        ax.set_xticks(range(1, len(data) + 1), [t.replace(" ∪ ", " ∪\n") for t, _ in data], rotation=30,
                      ha="right", fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("Dice")
        ax.set_title(f"Dice per class ({doc['n_cases']} cases)")
        ax.grid(axis="y", alpha=0.3)
        save(fig, "dice_boxplot.png")
    m = doc.get("measurements")
    if m and m["canal_compromise"]["per_level"]:
        pairs = m["canal_compromise"]["per_level"]
        t = [p["truth_pct"] for p in pairs]
        p = [p["pred_pct"] for p in pairs]
        lo, hi = min(0.0, *t, *p) - 3.0, max(100.0, *t, *p) + 3.0  # margin: points on 0 stay visible
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--", label="identity")
        ax.scatter(t, p, s=18, alpha=0.8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xlabel("true canal compromise (%)")
        ax.set_ylabel("predicted canal compromise (%)")
        err = m["canal_compromise"]["abs_error"]
        ax.set_title(f"Canal compromise per level (n={err['n']}, MAE {err['mean']:.1f} pp)")
        ax.legend(loc="upper left")
        ax.grid(alpha=0.3)
        save(fig, "compromise_scatter.png")
    if m and m["bilsky"]["n_levels"]:
        b = m["bilsky"]
        cm = np.asarray(b["confusion"])
        fig, ax = plt.subplots(figsize=(5.5, 4.8))
        im = ax.imshow(cm, cmap="Blues")
        cats = b["categories"]
        ax.set_xticks(range(len(cats)), cats)
        ax.set_yticks(range(len(cats)), cats)
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center",
                    color="white" if v > cm.max() / 2 else "black", fontsize=10)
        ax.set_xlabel("predicted Bilsky grade")
        ax.set_ylabel("true Bilsky grade")
        ax.set_title(f"Bilsky per level (n={b['n_levels']}, linear kappa {_fmt(b['linear_weighted_kappa'], 2)})")
        fig.colorbar(im, ax=ax, shrink=0.8)
        save(fig, "bilsky_confusion.png")
    return written


def write_evaluation(result: EvaluationResult, out_dir: Path) -> list[Path]:
    """Write evaluation.json, evaluation.md and the plots into ``out_dir``; returns the paths written."""
    out_dir = Path(out_dir)
    doc = result.to_dict()
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
    paths = [_atomic(out_dir / "evaluation.json", lambda p: p.write_text(text + "\n", encoding="utf-8"))]
    md = render_markdown(doc)
    paths.append(_atomic(out_dir / "evaluation.md", lambda p: p.write_text(md, encoding="utf-8")))
    paths += _plots(doc, out_dir)
    log.info("evaluation written to %s", out_dir)
    return paths
