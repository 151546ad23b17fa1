"""Shared test fixtures. Real data comes from ../shared/data; tests that need it skip where it is absent."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


def load_script(relative: str) -> ModuleType:
    """Import a repository script that is not in a package (``scripts/x.py``, ``benchmarks/x.py``) by its path."""
    path = REPO / relative
    name = path.stem
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real scans and DICOM); skips the test where that folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it sits beside the repository in the "
                    "development workplace); this test needs real scans")
    return SHARED_DATA
