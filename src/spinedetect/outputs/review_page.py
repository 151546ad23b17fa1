"""The batch review page: one self-contained HTML file, worklist sorted by urgency.

Overlay PNGs are embedded as data URIs so the page works opened from disk, copied or mailed, with no
server. Patient identity never appears unless the caller passes it in ``StudyEntry.patient_label``.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from spinedetect.alert.rules import AlertLevel
from spinedetect.atomic import atomic_path

__all__ = ["StudyEntry", "worklist_order", "render_review_page", "write_review_page"]


@dataclass(frozen=True)
class StudyEntry:
    """One study row of the worklist. ``status`` is ``"ok"`` or ``"failed"`` (then ``error`` says why).

    ``naming_confidence`` (0..1) is shown under the worst level: how sure its level name is (names ending
    in "?" are uncertain)."""

    key: str
    status: str = "ok"
    alert_level: AlertLevel | None = None
    worst_level: str | None = None
    canal_compromise_pct: float | None = None
    bilsky: str | None = None
    reasons: tuple[str, ...] = ()
    series: str | None = None
    overlays: tuple[Path, ...] = field(default_factory=tuple)
    error: str | None = None
    patient_label: str | None = None
    naming_confidence: float | None = None  # report.json naming.confidence (0: levels not named)


# Failed studies sort right after urgent ones: nothing is known about them, so a person must look.
_GROUP = {"urgent": 0, "failed": 1, "watch": 2, "none": 3}


def _group(entry: StudyEntry) -> str:
    if entry.status != "ok" or entry.alert_level is None:
        return "failed"
    return entry.alert_level.value


def worklist_order(entries: Sequence[StudyEntry]) -> list[StudyEntry]:
    """Urgent first, then failed, watch, none; within a group the worst canal compromise first."""
    return sorted(entries, key=lambda e: (_GROUP[_group(e)], -(e.canal_compromise_pct or 0.0), e.key))


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    alt = html.escape(Path(path).stem.replace("_", " "))
    return f'<img src="data:image/png;base64,{data}" alt="{alt}">'


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#111;color:#eee}
header{padding:12px 20px;background:#1d1d1d;border-bottom:1px solid #333}
h1{font-size:20px;margin:0} .meta{color:#aaa;font-size:13px}
table{border-collapse:collapse;width:100%} th,td{padding:6px 10px;text-align:left;vertical-align:top} tr.detail td{border-bottom:1px solid #333;padding-top:0}
th{background:#222;position:sticky;top:0} tr.study:hover{background:#1b2633}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600;font-size:12px}
.urgent{background:#c62828;color:#fff} .watch{background:#f9a825;color:#000} .none{background:#2e7d32;color:#fff}
.failed{background:#6a1b9a;color:#fff} .reasons{margin:0;padding-left:18px;color:#ddd}
.images img{max-height:320px;max-width:100%;margin:4px;border:1px solid #444;background:#000}
details summary{cursor:pointer;color:#8ab4f8} .warning{padding:10px 20px;color:#ff8a80;font-weight:600} .note{padding:10px 20px;color:#aaa;font-size:12px}
"""


# Counts the pictures that decoded and warns on the page when any did not (also read by the browser test).
_CHECK_SCRIPT = """<script>
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; } else { imgs[i].classList.add('broken'); }
  }
  document.body.dataset.imagesTotal = imgs.length;
  document.body.dataset.imagesLoaded = ok;
  if (ok < imgs.length) {
    var w = document.getElementById('img-warning');
    w.hidden = false;
    w.textContent = (imgs.length - ok) + ' picture(s) failed to load: open the study folder to see them.';
  }
});
</script>"""


def _page_parts(entries: Sequence[StudyEntry], title: str, subtitle: str) -> Iterator[str]:
    """The review page in pieces (head, one per study row with its pictures, tail), so it can be streamed."""
    counts = {g: sum(1 for e in entries if _group(e) == g) for g in _GROUP}
    summary = ", ".join(f"{counts[g]} {g}" for g in _GROUP)
    yield (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><div class=\"meta\">{html.escape(subtitle)} — "
        f"{len(entries)} studies: {summary}</div></header>"
        "<table><thead><tr><th>#</th><th>alert</th><th>study</th><th>worst level</th><th>canal compromise</th>"
        "<th>Bilsky</th><th>series</th></tr></thead><tbody>")
    for n, e in enumerate(worklist_order(entries), start=1):
        group = _group(e)
        pct = "" if e.canal_compromise_pct is None else f"{e.canal_compromise_pct:.0f} %"
        if e.status != "ok":
            detail = f'<p class="reasons">{html.escape(e.error or "failed")}</p>'
        else:
            items = "".join(f"<li>{html.escape(r)}</li>" for r in e.reasons) or "<li>no finding</li>"
            detail = f'<ul class="reasons">{items}</ul>'
        images = "".join(_img(p) for p in e.overlays)
        who = f"<br><small>{html.escape(e.patient_label)}</small>" if e.patient_label else ""
        sure = ("" if e.naming_confidence is None else "<br><small>levels not named</small>"
                if e.naming_confidence <= 0 else
                f"<br><small>level names: confidence {e.naming_confidence:.2f}</small>")
        yield (
            f'<tr class="study" data-alert="{group}" id="study-{n}">'
            f'<td>{n}</td><td><span class="badge {group}">{group}</span></td>'
            f"<td><code>{html.escape(e.key)}</code>{who}</td><td>{html.escape(e.worst_level or '')}{sure}</td>"
            f"<td>{pct}</td><td>{html.escape(e.bilsky or '')}</td><td>{html.escape(e.series or '')}</td></tr>"
            f'<tr class="detail"><td></td><td colspan="6">{detail}<details{" open" if group == "urgent" else ""}>'
            f'<summary>images</summary><div class="images">{images}</div></details></td></tr>')
    yield (
        "</tbody></table><p id=\"img-warning\" class=\"warning\" hidden></p><p class=\"note\">Research software, not a medical device. Every alert needs a "
        "radiologist's reading of the images.</p>" + _CHECK_SCRIPT + "</body></html>")


def render_review_page(entries: Sequence[StudyEntry], *, title: str = "spinedetect review",
                       subtitle: str = "") -> str:
    """The review page as one HTML string (UTF-8, no external resources)."""
    return "".join(_page_parts(entries, title, subtitle))


def write_review_page(entries: Sequence[StudyEntry], path: str | Path, *, title: str = "spinedetect review",
                      subtitle: str = "") -> Path:
    """Write the review page atomically to ``path`` and return it.

    Streamed one study at a time: memory stays that of one study's pictures, whatever the batch size.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            for part in _page_parts(entries, title, subtitle):
                fh.write(part)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)
