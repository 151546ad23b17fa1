"""Test helper for torchrun: on rank RANK_TO_FAIL every write into OUTPUT fails with ENOSPC (a full disk seen
by one node), the other ranks run ``spinedetect infer`` normally.

Usage: python -m torch.distributed.run --nproc-per-node 2 rank_fault_helper.py RANK_TO_FAIL infer INPUT OUTPUT ...
"""

from __future__ import annotations

import errno
import os
import sys


def main() -> int:
    failing, argv = sys.argv[1], sys.argv[2:]
    if os.environ.get("RANK") == failing:
        output = os.path.abspath(argv[2])
        real_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            if not os.path.relpath(os.path.abspath(os.fspath(dst)), output).startswith(".."):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))
            return real_replace(src, dst, *args, **kwargs)

        os.replace = replace
    from spinedetect.cli.main import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
