"""Atomic file writing: write to a temporary name in the same folder, then ``os.replace``.

A reader (or a crashed batch) never sees a half-written file: either the old file or the complete new one.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "atomic_write_bytes"]


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp", *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    ``suffix`` ends the temporary name, for writers that choose the format from it (``.nii.gz``).
    ``mode`` (e.g. 0o600 for a private file) replaces the default 0666 less the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    # mkstemp creates 0600; outputs are shared (imaging IT, a web server), so give them the mode a plain
    # open() would: 0666 less the process umask
    os.chmod(tmp, 0o666 & ~_umask() if mode is None else mode)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask: from /proc on Linux (os.umask can only read it by setting it, racing other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass  # no /proc (macOS, Windows): fall back to set-and-restore
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically (``mode`` as in :func:`atomic_path`); returns ``path``."""
    with atomic_path(path, mode=mode) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)
