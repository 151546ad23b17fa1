"""Shared test fixtures. Real data comes from ../shared/data; tests that need it skip where it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real scans and DICOM); skips the test where that folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it sits beside the repository in the "
                    "development workplace); this test needs real scans")
    return SHARED_DATA
