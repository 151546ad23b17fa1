import os
import socket
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from .conftest import tiny_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, root: str, out: str, src_path: str) -> None:
    sys.path.insert(0, src_path)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from spinedetect.training.trainer import train

    result = train(tiny_config(Path(root), steps=3, validate_every=0), Path(out), device="cpu")
    torch.save(result.model.state_dict(), Path(out) / f"rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_two_cpu_ranks_end_with_identical_weights(tiny_root, tmp_path):
    src = str(Path(__file__).resolve().parents[2] / "src")
    mp.spawn(_worker, args=(2, _free_port(), str(tiny_root), str(tmp_path), src), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt")
    b = torch.load(tmp_path / "rank1.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "checkpoints" / "last.pt").is_file()
    # and the run did train: weights moved away from the seed's initialisation
    from spinedetect.model.network import build_network

    torch.manual_seed(3)
    init = build_network(tiny_config(tiny_root).network).state_dict()
    assert not all(torch.equal(a[k], init[k]) for k in a)


@pytest.mark.slow
def test_torchrun_cli_two_cpu_processes(tiny_root, tmp_path):
    import subprocess

    import yaml

    from spinedetect.config import config_to_dict
    from spinedetect.model.checkpoint import load_checkpoint

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(config_to_dict(tiny_config(tiny_root, steps=2, validate_every=0))))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
           "-m", "spinedetect", "train", "--config", str(cfg), "--out", str(tmp_path / "run"), "--device", "cpu",
           "--no-progress"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trained to step 2" in done.stdout
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 2
