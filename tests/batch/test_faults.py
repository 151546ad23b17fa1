"""Faults during ``spinedetect infer``: killed runs, full disk, unwritable OUTPUT, corrupt model files.

Kills are real (SIGKILL of a subprocess at a chosen commit point, see kill_helper.py); the rerun and the
reference run are in-process. A disk filling up is simulated by making ``os.replace`` into OUTPUT raise
ENOSPC, which is where an atomic writer meets a full disk (the temporary file is then removed).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from spinedetect.batch.runner import OutputLock
from spinedetect.cli.main import main
from spinedetect.model.checkpoint import file_sha256, state_sha256
from tests.batch.checks import assert_same_outputs, assert_trustworthy, infer_argv, no_leftovers, study_folders

torch.set_num_threads(1)
HELPER = Path(__file__).with_name("kill_helper.py")
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def reference(phantom_batch, tiny_checkpoint, tmp_path_factory):
    """One uninterrupted run over the phantom batch (3 studies, 3 skipped inputs) and its study keys."""
    out = tmp_path_factory.mktemp("reference") / "out"
    assert main(infer_argv(phantom_batch[0], out, tiny_checkpoint)) == 0
    return out, [p.name for p in study_folders(out)]


def _kill_at(when: str, pattern: str, nth: int, inp: Path, out: Path, model: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(SRC.parent), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(HELPER), when, pattern, str(nth), *infer_argv(inp, out, model)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == -9, f"the kill point was not reached (exit {done.returncode}): {done.stderr[-2000:]}"


# (when, destination pattern relative to OUTPUT, occurrence); {k} is the second study's key
KILL_POINTS = {
    "first study, between its first two files": ("after", r"^\.staging/[^/]+/labels\.nii\.gz$", 1),
    "second study, DICOM SEG half-staged": ("before", r"^\.staging/{k}/seg\.dcm$", 1),
    "second study staged, before its rename": ("before", r"^{k}$", 1),
    "second study renamed, before the third": ("after", r"^{k}$", 1),
    "batch files: summary written, manifest not": ("after", r"^summary\.csv$", 1),
}


#: Kill points also run by CI; the others are marked slow (each kill costs a fresh interpreter).
FAST_POINTS = ("second study, DICOM SEG half-staged", "second study staged, before its rename",
               "batch files: summary written, manifest not")


@pytest.mark.parametrize("point", [p if p in FAST_POINTS else pytest.param(p, marks=pytest.mark.slow)
                                   for p in KILL_POINTS])
def test_killed_run_leaves_nothing_trusted_partial_and_rerun_completes(point, phantom_batch, tiny_checkpoint,
                                                                       reference, tmp_path):
    ref_out, keys = reference
    when, pattern, nth = KILL_POINTS[point]
    out = tmp_path / "out"
    _kill_at(when, pattern.format(k=keys[1]), nth, phantom_batch[0], out, tiny_checkpoint)
    trusted = assert_trustworthy(out)
    assert len(trusted) == {"first study, between its first two files": 0, "second study, DICOM SEG half-staged": 1,
                            "second study staged, before its rename": 1, "second study renamed, before the third": 2,
                            "batch files: summary written, manifest not": 3}[point]
    if point.startswith("batch files"):
        assert (out / "summary.csv").exists() and not (out / "manifest.json").exists()
    assert main(infer_argv(phantom_batch[0], out, tiny_checkpoint)) == 0
    no_leftovers(out)
    assert_same_outputs(out, ref_out)
    with OutputLock(out):  # the killed run's lock died with it
        pass


def _enospc_on(monkeypatch, out: Path, pattern: str) -> list[str]:
    """Make every os.replace into OUTPUT whose relative destination contains ``pattern`` fail with ENOSPC."""
    real, hits = os.replace, []

    def replace(src, dst, *args, **kwargs):
        rel = os.path.relpath(os.path.abspath(os.fspath(dst)), out)
        if pattern in rel and not rel.startswith(".."):
            hits.append(rel)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return hits


def _one_clear_line(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    for needle in needles:
        assert needle in err[0], (needle, err[0])
    return err[0]


@pytest.mark.parametrize("workers", [0, 2])
def test_disk_full_mid_batch_stops_cleanly_and_rerun_completes(workers, phantom_batch, tiny_checkpoint, reference,
                                                               tmp_path, monkeypatch, capsys):
    ref_out, keys = reference
    out = tmp_path / "out"
    hits = _enospc_on(monkeypatch, out, f".staging/{keys[1]}/")
    argv = infer_argv(phantom_batch[0], out, tiny_checkpoint)
    argv[argv.index("--workers") + 1] = str(workers)
    assert main(argv) == 2
    line = _one_clear_line(capsys, "Stopped: cannot write the outputs in", str(out), "No space left on device",
                           "ENOSPC", "rerun the same command")
    assert "1 of 3 studies are complete" in line or (workers and "of 3 studies are complete" in line)
    assert hits and not (out / ".failed").exists(), "a full disk is not the study's failure"
    assert keys[1] not in [p.name for p in study_folders(out)]
    assert_trustworthy(out)
    no_leftovers(out)
    with OutputLock(out):
        pass
    monkeypatch.undo()  # space freed
    assert main(infer_argv(phantom_batch[0], out, tiny_checkpoint)) == 0
    assert_same_outputs(out, ref_out)


def test_disk_full_while_writing_batch_files(phantom_batch, tiny_checkpoint, reference, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    _enospc_on(monkeypatch, out, "manifest.json")
    assert main(infer_argv(phantom_batch[0], out, tiny_checkpoint)) == 2
    _one_clear_line(capsys, "No space left on device", "3 of 3 studies are complete")
    assert not (out / "manifest.json").exists()
    no_leftovers(out)
    monkeypatch.undo()
    assert main(infer_argv(phantom_batch[0], out, tiny_checkpoint)) == 0
    assert_same_outputs(out, reference[0])


def test_output_that_is_a_file_or_under_a_file(phantom_batch, tiny_checkpoint, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    assert main(infer_argv(phantom_batch[0], afile, tiny_checkpoint)) == 2
    _one_clear_line(capsys, f"Output folder {afile} cannot be created", "EEXIST", "Choose another OUTPUT")
    assert main(infer_argv(phantom_batch[0], afile / "out", tiny_checkpoint)) == 2
    _one_clear_line(capsys, "cannot be created", "ENOTDIR")
    assert afile.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits; the file and ENOSPC cases cover root")
def test_output_without_write_permission(phantom_batch, tiny_checkpoint, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(infer_argv(phantom_batch[0], locked, tiny_checkpoint)) == 2
        _one_clear_line(capsys, f"Output folder {locked} is not writable")
        assert main(infer_argv(phantom_batch[0], locked / "out", tiny_checkpoint)) == 2
        _one_clear_line(capsys, "cannot be created", "EACCES")
    finally:
        locked.chmod(0o700)


def _flip_byte_in_weights(src: Path, dst: Path) -> None:
    """Copy ``src`` with one byte of its largest tensor's data inverted (the zip and pickle stay valid)."""
    payload = torch.load(src, weights_only=True)
    largest = max(payload["model"].values(), key=lambda t: t.numel())
    data = bytearray(src.read_bytes())
    at = bytes(data).find(largest.contiguous().view(torch.uint8).numpy().tobytes()[:64])
    assert at > 0
    data[at + 10] ^= 0xFF
    dst.write_bytes(bytes(data))


def _corrupt_copy(src: Path, dst: Path, how: str, sidecar: bool) -> None:
    data = src.read_bytes()
    if how == "truncated":
        dst.write_bytes(data[: len(data) // 2])
    elif how == "bit-flip":
        _flip_byte_in_weights(src, dst)
    else:
        dst.write_bytes(os.urandom(4096))
    if sidecar:
        shutil.copy(src.with_name(src.name + ".sha256"), dst.with_name(dst.name + ".sha256"))


@pytest.mark.parametrize("how", ["truncated", "bit-flip", "random bytes"])
def test_corrupt_model_with_recorded_hash_is_refused_naming_both_hashes(how, phantom_batch, tiny_checkpoint,
                                                                        tmp_path, capsys):
    bad = tmp_path / "model.pt"
    _corrupt_copy(tiny_checkpoint, bad, how, sidecar=True)
    out = tmp_path / "out"
    assert main(infer_argv(phantom_batch[0], out, bad)) == 2
    _one_clear_line(capsys, "corrupt or was altered", f"expected sha256 {file_sha256(tiny_checkpoint)}",
                    f"found sha256 {file_sha256(bad)}")
    assert not out.exists(), "refused before any study ran"


def test_corrupt_shipped_default_model_is_refused(phantom_batch, tmp_path, monkeypatch, capsys):
    from spinedetect.model import predictor

    shipped = predictor.default_checkpoint()
    if shipped is None:
        pytest.skip("no default model installed")
    bad = tmp_path / "weights" / "default.pt"
    bad.parent.mkdir()
    _corrupt_copy(shipped, bad, "bit-flip", sidecar=True)
    monkeypatch.setattr(predictor, "DEFAULT_WEIGHTS", bad)
    out = tmp_path / "out"
    assert main(["infer", str(phantom_batch[0]), str(out), "--device", "cpu", "--no-progress"]) == 2
    _one_clear_line(capsys, str(bad), f"expected sha256 {file_sha256(shipped)}", f"found sha256 {file_sha256(bad)}")
    assert not out.exists()


@pytest.mark.parametrize("how", ["truncated", "bit-flip", "random bytes"])
def test_corrupt_model_without_sidecar_is_refused_with_its_hash(how, phantom_batch, tiny_checkpoint, tmp_path, capsys):
    bad = tmp_path / "model.pt"
    _corrupt_copy(tiny_checkpoint, bad, how, sidecar=False)
    out = tmp_path / "out"
    assert main(infer_argv(phantom_batch[0], out, bad)) == 2
    line = _one_clear_line(capsys, str(bad), f"sha256 {file_sha256(bad)}")
    if how == "bit-flip":  # the weights' own recorded hash catches it
        weights = torch.load(tiny_checkpoint, weights_only=True)
        assert f"expected weights sha256 {weights['state_sha256']}" in line
        assert state_sha256(weights["model"]) == weights["state_sha256"]
    else:
        assert "cannot be read" in line
    assert not out.exists()

