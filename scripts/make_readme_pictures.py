"""Make the README's pictures: the demo's phantom studies through the shipped model, two overlays, the review page.

    python scripts/make_readme_pictures.py                      # writes docs/images/*.png (about a minute)
    python scripts/make_readme_pictures.py --quick --out DIR    # one coarse MR study: a fast check of this script

Writes ``overlay_sagittal.png`` and ``overlay_worst_section.png`` (the urgent MR phantom's study overlays, as
``spinedetect infer`` wrote them) and ``review_page.png`` (the batch's index.html in headless Chromium;
skipped with a message when chromium is absent). PNGs are re-encoded with a 256-colour palette where that
keeps them under ``--max-kb``.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from PIL import Image

from spinedetect.atomic import atomic_write_bytes
from spinedetect.batch import run_batch
from spinedetect.cli.demo import DEMO_CASES, make_demo_studies
from spinedetect.io import discover_series
from spinedetect.model import Predictor
from spinedetect.outputs.study_pictures import SAGITTAL_PNG, WORST_SECTION_PNG
from spinedetect.phantom import PhantomConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
import headless_chromium  # noqa: E402  (a sibling script, not a package)

REPO = Path(__file__).resolve().parents[1]
#: the demo case whose overlays the README shows
PICTURED = "mr-t2-sagittal-urgent"
REVIEW_WINDOW = (1280, 900)


def _cases(quick: bool) -> list[tuple[str, int, PhantomConfig]]:
    """The demo set, or (``quick``) only its urgent MR study on a coarse 2 mm grid."""
    if not quick:
        return list(DEMO_CASES)
    picked = [c for c in DEMO_CASES if c[0] == PICTURED]
    return [(name, seed, replace(cfg, imaging=replace(cfg.imaging, sagittal_spacing_mm=(2.0, 2.0, 5.0),
                                                      sagittal_lr_coverage_mm=50.0)))
            for name, seed, cfg in picked]


def png_bytes(image: Image.Image, max_kb: int) -> bytes:
    """``image`` as PNG of at most ``max_kb`` KiB: full colour if it fits, else a palette of 256, 128 or 64
    colours, else the 64-colour palette at 80 % or 60 % of the size. SystemExit when nothing fits.
    """
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    if out.tell() <= max_kb * 1024:
        return out.getvalue()
    rgb = image.convert("RGB")
    # Palettes first: downscaling a noisy picture blends its noise into more colours, and rarely pays.
    tries = [(1.0, 256), (1.0, 128), (1.0, 64), (0.8, 64), (0.6, 64)]
    for scale, colours in tries:
        small = rgb if scale == 1.0 else rgb.resize((round(rgb.width * scale), round(rgb.height * scale)),
                                                    Image.Resampling.LANCZOS)
        out = io.BytesIO()
        small.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
        if out.tell() <= max_kb * 1024:
            return out.getvalue()
    raise SystemExit(f"a {image.width}x{image.height} picture does not fit {max_kb} KiB even as a 64-colour "
                     "palette PNG at 60 % of its size")


def _write_png(src: Path, dst: Path, max_kb: int) -> Path:
    with Image.open(src) as im:
        data = png_bytes(im, max_kb)
    atomic_write_bytes(dst, data)
    with Image.open(io.BytesIO(data)) as im:
        print(f"wrote {dst} ({im.width}x{im.height}, {len(data) // 1024} KiB)")
    return dst


def make_pictures(out: Path, work: Path, *, quick: bool = False, model: str | None = None,
                  device: str = "cpu", max_kb: int = 300) -> list[Path]:
    """Phantom studies in ``work``, inference with ``model`` (default: the shipped one), pictures into ``out``."""
    cases = _cases(quick)
    make_demo_studies(work, cases)
    result = run_batch(work / "studies", work / "results", Predictor.from_checkpoint(model, device=device))
    key = discover_series(work / "studies" / PICTURED).studies[0].key
    study = next((s for s in result.studies if s.key == key), None)
    if study is None or study.status != "ok":
        raise SystemExit(f"the {PICTURED} study did not go through inference: {study.error if study else 'missing'}")
    overlays = work / "results" / key / "overlays"
    written = [_write_png(overlays / SAGITTAL_PNG, out / "overlay_sagittal.png", max_kb),
               _write_png(overlays / WORST_SECTION_PNG, out / "overlay_worst_section.png", max_kb)]
    if headless_chromium.find_chromium() is None:
        print("chromium is not installed: review_page.png not made (Debian: apt-get install chromium)")
        return written
    shot = headless_chromium.screenshot(work / "results" / "index.html", work / "review_page.png",
                                        work / "chromium-profile", size=REVIEW_WINDOW)
    written.append(_write_png(shot, out / "review_page.png", max_kb))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images", help="where the PNGs go")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the phantom studies and inference results here (default: a temporary folder)")
    parser.add_argument("--quick", action="store_true",
                        help="one coarse MR study instead of the demo set (a fast check)")
    parser.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    parser.add_argument("--max-kb", type=int, default=300, help="largest PNG allowed, KiB (default: 300)")
    args = parser.parse_args(argv)
    if args.work is not None:
        make_pictures(args.out, args.work, quick=args.quick, model=args.model, device=args.device,
                      max_kb=args.max_kb)
        return 0
    with tempfile.TemporaryDirectory(prefix="spinedetect-pictures-") as tmp:
        make_pictures(args.out, Path(tmp), quick=args.quick, model=args.model, device=args.device,
                      max_kb=args.max_kb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
