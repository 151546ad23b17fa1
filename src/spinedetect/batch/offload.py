"""A side process for the per-study work that can run beside the measurement.

Building and writing the DICOM objects is pure Python, so a thread beside the measurement gains nothing
(the GIL); a forked process does, on a second core. Where ``fork`` is unavailable, or the side process
died, jobs run in this process, one after the other: same files, only slower.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

__all__ = ["SideProcess"]

log = logging.getLogger(__name__)


class SideProcess:
    """Runs jobs on ``processes`` forked worker processes (0: in this process, at submission).

    Jobs get and return picklable values; their exceptions come back through the future. Use as a
    context manager, or call :meth:`close`.
    """

    def __init__(self, processes: int = 1) -> None:
        self._pool: ProcessPoolExecutor | None = None
        if processes > 0 and "fork" in multiprocessing.get_all_start_methods():
            # fork: the worker starts in milliseconds with every module already imported (spawn would
            # re-import torch and the DICOM libraries, seconds per batch); it never touches torch
            self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"),
                                             initializer=_die_with_parent, initargs=(os.getpid(),))

    @property
    def parallel(self) -> bool:
        """True while jobs run in a separate process."""
        return self._pool is not None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Start ``fn(*args)``; its future holds the result or the exception."""
        if self._pool is not None:
            try:
                return self._pool.submit(fn, *args)
            except BrokenProcessPool:
                log.warning("the side process died; its work continues in this process")
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
        done: Future = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # handed to the caller through the future, as from the pool
            done.set_exception(exc)
        return done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> "SideProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _die_with_parent(parent: int) -> None:
    """Worker start: be killed with the run (a killed run must not leave a worker writing into OUTPUT,
    nor holding the inherited output lock)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass  # not Linux: the worker ends when it finds its job queue closed
    if os.getppid() != parent:  # the run died before prctl took effect
        os._exit(1)
