"""One helper process for the per-study work that can run beside the measurement (DICOM SEG and SR).

Building and encoding the DICOM objects is pure Python, so a thread beside the measurement gains nothing
(the GIL); a second process does, on the second core. The helper is a fresh interpreter (not a fork of
the loaded model process, whose copy-on-write pages would slow the measurement running beside it) that
imports the DICOM libraries once, never torch. One helper serves a Python process: the first batch starts
it (its start overlaps that batch's first model run) and later batches reuse it, as a loaded model is
reused; it ends with the process.

Jobs are top-level functions with picklable arguments and results; a job's exception is raised again
here. Where the helper is disabled or dies (killed, out of memory), jobs run in this process when their
result is asked for: same outputs, only slower. The helper never outlives its process: a thread in it
waits on that process (a pidfd on Linux) and ends the helper when it ends, however it ends.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import queue
import select
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable

__all__ = ["SideProcess", "SideJob", "HelperDied", "PRELOAD", "HELPER_NICENESS"]

log = logging.getLogger(__name__)

#: Modules the helper imports when it starts, so that its first job does not wait for them.
PRELOAD = ("spinedetect.outputs.dicom_encode",)


#: CPU priority the helper lowers itself by (nice): on a busy machine its SEG/SR fill the moments the
#: run leaves a core idle instead of slowing the run's own work (~0.05 s less per study in alternating
#: single-study runs at niceness 0 and 5).
HELPER_NICENESS = 5

#: The helper is the second core's work: thread pools of its numeric libraries would only contend with the run.
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class HelperDied(RuntimeError):
    """The helper process ended before answering (its jobs are run in this process instead)."""


@dataclass
class SideJob:
    """A submitted job: its future in the helper (None: it runs here, at :meth:`SideProcess.result`)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: Future | None


class _Helper:
    """The helper process, the pipe its jobs go down and the thread that reads its answers."""

    def __init__(self) -> None:
        job_r, job_w = os.pipe()
        res_r, res_w = os.pipe()
        code = ("import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
                "from spinedetect.batch.side_process import serve; serve(*map(int, sys.argv[2:]))")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code, json.dumps([p for p in sys.path if p]), str(job_r), str(res_w),
                 str(os.getpid())], pass_fds=(job_r, res_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                env={**os.environ, **_ONE_THREAD})
        finally:
            os.close(job_r)
            os.close(res_w)
        self._jobs: BinaryIO = os.fdopen(job_w, "wb")
        self._answers: BinaryIO = os.fdopen(res_r, "rb")
        self._lock = threading.Lock()
        self._pending: dict[int, Future] = {}
        self._next = 0
        self.alive = True
        threading.Thread(target=self._read_answers, name="spinedetect-side-answers", daemon=True).start()

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Future:
        future: Future = Future()
        data = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)  # an unpicklable job raises here
        with self._lock:
            if not self.alive:
                raise HelperDied("the helper process has ended")
            job_id, self._next = self._next, self._next + 1
            self._pending[job_id] = future
            try:
                pickle.dump((job_id, data), self._jobs, protocol=pickle.HIGHEST_PROTOCOL)
                self._jobs.flush()
            except OSError:  # broken pipe: the helper is gone; the reader fails every pending job
                self._pending.pop(job_id, None)
                raise HelperDied("the helper process has ended") from None
        return future

    def _read_answers(self) -> None:
        try:
            while True:
                job_id, ok, value = pickle.load(self._answers)
                with self._lock:
                    future = self._pending.pop(job_id)
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except Exception:  # EOF, a broken pipe or a garbled answer: the helper is unusable either way
            pass
        with self._lock:
            self.alive = False
            pending, self._pending = list(self._pending.values()), {}
        if self.process.poll() is None:  # alive but unusable (a garbled answer): end it, a new one replaces it
            self.process.kill()
            self.process.wait()
        for future in pending:
            future.set_exception(HelperDied(f"the helper process ended (exit status {self.process.poll()})"))


_shared: _Helper | None = None
_shared_lock = threading.Lock()


def _forget_helper() -> None:
    """In a forked child: the parent's helper (its pipes, its answer reader) is not this process's."""
    global _shared, _shared_lock
    _shared, _shared_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helper)


def _shared_helper() -> _Helper:
    """This process's helper, started on first use (or again after the last one died)."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive:
            _shared = _Helper()
        return _shared


class SideProcess:
    """Jobs for the helper process of this Python process (``enabled=False``: run here, at :meth:`result`).

    Use as a context manager around a batch.
    """

    def __init__(self, enabled: bool = True) -> None:
        self._helper: _Helper | None = None
        if enabled:
            try:
                self._helper = _shared_helper()
            except OSError as exc:
                log.warning("no side process for DICOM SEG/SR (%s): built in the main process", exc)

    @property
    def parallel(self) -> bool:
        """True while jobs run in the helper process."""
        return self._helper is not None and self._helper.alive

    @property
    def helper_pid(self) -> int | None:
        """Process id of the helper (None when jobs run here), e.g. to read its memory use."""
        return self._helper.process.pid if self.parallel else None  # type: ignore[union-attr]

    def submit(self, fn: Callable[..., Any], *args: Any) -> SideJob:
        """Start ``fn(*args)`` in the helper (or leave it to run here, at :meth:`result`)."""
        future = None
        if self._helper is not None:
            try:
                future = self._helper.submit(fn, args)
            except HelperDied:
                self._lost()
        return SideJob(fn, args, future)

    def result(self, job: SideJob) -> Any:
        """The job's return value (its exception is raised); a job the dead helper lost is run here."""
        if job.future is not None:
            try:
                return job.future.result()
            except HelperDied:
                self._lost()
        return job.fn(*job.args)

    def _lost(self) -> None:
        if self._helper is not None:
            log.warning("the side process for DICOM SEG/SR died; its work continues in the main process")
            self._helper = None

    def __enter__(self) -> "SideProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self._helper = None  # the helper stays for the next batch of this process


def serve(job_fd: int, answer_fd: int, run_pid: int) -> None:
    """The helper's main loop: run each job from ``job_fd``, answer on ``answer_fd``; end with ``run_pid``."""
    import importlib

    _end_with(run_pid)
    try:  # yield to the run when both want a core: its measurement is what a study waits for first
        os.nice(HELPER_NICENESS)
    except (AttributeError, OSError):
        pass
    for name in PRELOAD:
        importlib.import_module(name)
    jobs: queue.SimpleQueue = queue.SimpleQueue()

    def read_jobs() -> None:  # reads ahead, so a large job never blocks its sender while another one runs
        try:
            with os.fdopen(job_fd, "rb") as pipe:
                while True:
                    jobs.put(pickle.load(pipe))
        except (EOFError, OSError, pickle.UnpicklingError):
            jobs.put(None)

    threading.Thread(target=read_jobs, name="spinedetect-side-jobs", daemon=True).start()
    with os.fdopen(answer_fd, "wb") as answers:
        while (item := jobs.get()) is not None:
            job_id, data = item
            try:
                fn, args = pickle.loads(data)
                answer = (job_id, True, fn(*args))
            except BaseException as exc:  # handed back to the caller, which raises it there
                answer = (job_id, False, exc)
            try:
                payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # an exception (or result) that does not pickle: its text goes back
                payload = pickle.dumps((job_id, False, RuntimeError(f"{type(answer[2]).__name__}: {answer[2]} "
                                                                    f"(not picklable: {exc})")))
            try:
                answers.write(payload)
                answers.flush()
            except OSError:  # the run has gone (its watcher ends this process too)
                return


def _end_with(run_pid: int) -> None:
    """Start a thread that ends this helper as soon as process ``run_pid`` is gone (killed, crashed, done)."""
    try:
        fd: int | None = os.pidfd_open(run_pid)  # Linux >= 5.3: readable when the process ends, no polling
    except (AttributeError, OSError):
        fd = None

    def watch() -> None:
        if fd is not None:
            select.select([fd], [], [])
        else:
            while _alive(run_pid):
                time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="spinedetect-run-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
