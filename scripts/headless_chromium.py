"""Drive headless Chromium (Debian's ``chromium`` package): dump a page's DOM after its scripts ran, or screenshot it.

Shared by the review-page browser test and ``scripts/make_readme_pictures.py``. Chromium is a tool of
development and CI here, not of the library: ``scripts/test.sh`` installs it where it can, and callers
skip their browser work when :func:`find_chromium` returns None.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from spinedetect.atomic import atomic_path

__all__ = ["FLAGS", "find_chromium", "run_chromium", "dump_dom", "screenshot"]

#: Flags for a quiet, offline, sandbox-free run (tests run as root in containers, where the sandbox cannot start).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--virtual-time-budget=5000")


def find_chromium() -> str | None:
    """Path of the chromium executable on PATH, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_chromium(args: list[str], profile: Path, *, timeout_s: float = 120.0) -> str:
    """Run chromium with :data:`FLAGS`, a fresh profile folder and ``args``; returns its stdout.

    Raises RuntimeError (with the end of stderr) when chromium is absent or exits non-zero.
    """
    exe = find_chromium()
    if exe is None:
        raise RuntimeError("chromium is not installed (Debian: apt-get install chromium)")
    done = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited with {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` (an HTML file) serialised after its load handlers ran."""
    return run_chromium(["--dump-dom", Path(page).resolve().as_uri()], profile)


def screenshot(page: Path, png: Path, profile: Path, *, size: tuple[int, int] = (1280, 800)) -> Path:
    """Screenshot ``page`` into ``png`` at ``size`` (width, height in CSS pixels); returns ``png``."""
    png = Path(png).resolve()
    with atomic_path(png, suffix=".png") as tmp:
        run_chromium([f"--screenshot={tmp}", f"--window-size={size[0]},{size[1]}", Path(page).resolve().as_uri()],
                     profile)
        if tmp.stat().st_size == 0:
            raise RuntimeError(f"chromium exited cleanly but wrote no screenshot of {page}")
    return png
