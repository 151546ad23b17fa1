import pytest

from spinedetect.atomic import atomic_path, atomic_write_bytes


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = atomic_write_bytes(tmp_path / "a" / "x.bin", b"one")
    atomic_write_bytes(p, b"two")
    assert p.read_bytes() == b"two"
    assert [q.name for q in p.parent.iterdir()] == ["x.bin"]


def test_failed_write_keeps_old_file(tmp_path):
    p = atomic_write_bytes(tmp_path / "x.bin", b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert p.read_bytes() == b"old"
    assert [q.name for q in tmp_path.iterdir()] == ["x.bin"]


def test_written_files_get_the_mode_open_would_give(tmp_path):
    import os

    old = os.umask(0o027)
    try:
        p = atomic_write_bytes(tmp_path / "shared.bin", b"x")
        with atomic_path(tmp_path / "other.txt") as tmp:
            tmp.write_text("y")
    finally:
        os.umask(old)
    assert (p.stat().st_mode & 0o777) == 0o640
    assert ((tmp_path / "other.txt").stat().st_mode & 0o777) == 0o640
