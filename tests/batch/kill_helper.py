"""Test helper: run ``spinedetect infer`` and SIGKILL this process at a chosen commit point.

Every output reaches its place through ``os.replace`` (atomic files, the staging -> study rename), so
those calls are the points where a kill can leave a different state on disk. The helper wraps
``os.replace`` and kills the process (SIGKILL: no cleanup, no ``finally``, like ``kill -9`` or the OOM
killer) just before or just after the NTH call whose destination, relative to OUTPUT, matches PATTERN.

Usage: python kill_helper.py before|after PATTERN NTH infer INPUT OUTPUT [options...]
Exits with the CLI's status when the point is never reached (the test then fails: it expects -9).
"""

from __future__ import annotations

import os
import re
import signal
import sys


def main() -> int:
    when, pattern, nth, argv = sys.argv[1], re.compile(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    output = os.path.abspath(argv[2])
    real_replace = os.replace
    seen = 0

    def replace(src, dst, *args, **kwargs):
        nonlocal seen
        hit = bool(pattern.search(os.path.relpath(os.path.abspath(os.fspath(dst)), output)))
        seen += hit
        if hit and seen == nth and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst, *args, **kwargs)
        if hit and seen == nth and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace
    from spinedetect.cli.main import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
