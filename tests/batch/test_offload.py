import os
from concurrent.futures.process import BrokenProcessPool

import pytest

from spinedetect.batch.offload import SideProcess


def _pid_and(x):
    return os.getpid(), x * 2


def _fail(message):
    raise ValueError(message)


def _die():
    os._exit(3)  # like the OOM killer: no exception, no cleanup


def test_jobs_run_in_another_process_and_return_results_and_errors():
    with SideProcess(1) as side:
        assert side.parallel
        pid, value = side.submit(_pid_and, 21).result(timeout=60)
        assert value == 42 and pid != os.getpid()
        with pytest.raises(ValueError, match="bad study"):
            side.submit(_fail, "bad study").result(timeout=60)


def test_zero_processes_runs_jobs_here_at_submission():
    side = SideProcess(0)
    job = side.submit(_pid_and, 1)
    assert not side.parallel and job.done() and job.result() == (os.getpid(), 2)
    assert isinstance(side.submit(_fail, "x").exception(), ValueError)


def test_a_dead_side_process_fails_its_job_and_the_rest_run_here():
    with SideProcess(1) as side:
        with pytest.raises(BrokenProcessPool):
            side.submit(_die).result(timeout=60)
        pid, value = side.submit(_pid_and, 5).result(timeout=60)
        assert value == 10 and pid == os.getpid() and not side.parallel
