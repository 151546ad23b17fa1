"""configs/io.yaml equals the IOConfig defaults, and bad values are refused."""

from __future__ import annotations

import pytest

from spinedetect.config import load_config
from spinedetect.errors import ConfigError
from spinedetect.io import IOConfig, Orientation
from tests.conftest import REPO


def test_shipped_yaml_equals_defaults():
    assert load_config(IOConfig, REPO / "configs" / "io.yaml") == IOConfig()


def test_bad_values_refused(tmp_path):
    path = tmp_path / "io.yaml"
    path.write_text("selection:\n  mr_orientation: upside_down\n")
    with pytest.raises(ConfigError, match="mr_orientation"):
        load_config(IOConfig, path)
    path.write_text("limits:\n  max_voxels: 0\n")
    with pytest.raises(ConfigError, match="max_voxels"):
        load_config(IOConfig, path)
    path.write_text("selection:\n  mr_orientation: axial\n")
    assert load_config(IOConfig, path).selection.mr_orientation is Orientation.AXIAL
