"""The helper process that builds DICOM SEG/SR beside the measurement (spinedetect.batch.side_process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spinedetect.batch.side_process import HELPER_NICENESS, SideProcess
from spinedetect.errors import InputError


def _pid_and(x: int) -> tuple[int, int]:
    return os.getpid(), 2 * x


def _refuse(name: str) -> None:
    raise InputError(f"Study {name} is unusable", expected="a spine", found="a knee", hint="Check the input")


def _die_unless_in(pid: int) -> int:
    if os.getpid() != pid:
        os._exit(3)  # like the OOM killer: no exception, no answer
    return pid


def test_jobs_run_in_the_helper_and_their_results_and_errors_come_back():
    with SideProcess() as side:
        assert side.parallel and side.helper_pid not in (None, os.getpid())
        assert side.result(side.submit(_pid_and, 21)) == (side.helper_pid, 42)
        with pytest.raises(InputError) as err:
            side.result(side.submit(_refuse, "x"))
    assert str(err.value) == "Study x is unusable; expected a spine; found a knee. Check the input."
    assert (err.value.expected, err.value.found, err.value.hint) == ("a spine", "a knee", "Check the input")


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


def test_the_helper_yields_the_cpu_to_the_run():
    with SideProcess() as side:
        assert side.result(side.submit(_niceness)) == min(19, _niceness() + HELPER_NICENESS)


def test_the_helper_serves_later_batches_of_the_process():
    with SideProcess() as first:
        pid = first.helper_pid
        first.result(first.submit(_pid_and, 1))
    with SideProcess() as second:
        assert second.helper_pid == pid


def test_disabled_runs_jobs_here_when_their_result_is_asked_for():
    side = SideProcess(enabled=False)
    assert not side.parallel and side.helper_pid is None
    assert side.result(side.submit(_pid_and, 1)) == (os.getpid(), 2)


def test_a_dead_helpers_job_runs_here_and_the_next_batch_gets_a_new_helper():
    with SideProcess() as side:
        dead = side.helper_pid
        assert side.result(side.submit(_die_unless_in, os.getpid())) == os.getpid()
        assert not side.parallel
        assert side.result(side.submit(_pid_and, 3)) == (os.getpid(), 6)  # the rest of the batch runs here
    with SideProcess() as again:
        assert again.parallel and again.helper_pid != dead
        assert again.result(again.submit(_pid_and, 4))[1] == 8


def _forked_child_helper(write_fd: int) -> None:
    """In a forked child: report the helper pid a new SideProcess gets, then leave without cleanup."""
    side = SideProcess()
    os.write(write_fd, str(side.helper_pid).encode())
    os._exit(0)


def test_a_forked_child_gets_its_own_helper():
    """A fork must not share the parent's pipes: two readers would take each other's answers."""
    with SideProcess() as side:
        parent_helper = side.helper_pid
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            _forked_child_helper(w)
        os.close(w)
        os.waitpid(pid, 0)
        child_helper = int(os.read(r, 64) or b"0")
        os.close(r)
        assert child_helper not in (0, parent_helper)
        assert side.result(side.submit(_pid_and, 5)) == (parent_helper, 10)


_KILLED_RUN = """
import os, signal, sys
sys.path[:0] = {path!r}
from spinedetect.batch.side_process import HELPER_NICENESS, SideProcess
from tests.batch.test_side_process import _pid_and
side = SideProcess()
side.result(side.submit(_pid_and, 1))
print(side.helper_pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended (a zombie has ended, only its entry is left)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc (Linux)")
def test_the_helper_ends_when_its_run_is_killed():
    root = str(Path(__file__).resolve().parents[2])
    run = subprocess.run([sys.executable, "-c", _KILLED_RUN.format(path=[root, *sys.path])],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=120)
    assert run.returncode == -signal.SIGKILL
    helper = int(run.stdout.split()[0])
    deadline = time.monotonic() + 20
    while _running(helper) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(helper), "the helper outlived the killed run"
