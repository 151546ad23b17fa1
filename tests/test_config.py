from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from spinedetect.alert import AlertConfig
from spinedetect.config import config_from_mapping, config_to_dict, load_config
from spinedetect.errors import ConfigError
from spinedetect.grading import BilskyGrade


@dataclass(frozen=True)
class Inner:
    size_mm: float = 1.0
    names: tuple[str, ...] = ("a",)


@dataclass(frozen=True)
class Outer:
    count: int = 3
    mode: Literal["mr", "ct"] = "mr"
    inner: Inner = field(default_factory=Inner)
    optional: int | None = None


def test_defaults_and_nested(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("count: 5\nmode: ct\ninner:\n  size_mm: 2\n  names: [x, y]\n")
    cfg = load_config(Outer, path)
    assert cfg == Outer(count=5, mode="ct", inner=Inner(size_mm=2.0, names=("x", "y")))
    assert isinstance(cfg.inner.size_mm, float)
    assert load_config(Outer) == Outer()


def test_frozen():
    cfg = Outer()
    with pytest.raises(Exception):
        cfg.count = 4  # type: ignore[misc]


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("inner:\n  sise_mm: 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*inner\.sise_mm"):
        load_config(Outer, path)


@pytest.mark.parametrize("text, key", [("count: many\n", "count"), ("count: true\n", "count"),
                                       ("mode: pet\n", "mode"), ("inner: 3\n", "inner"),
                                       ("inner:\n  names: x\n", "inner.names")])
def test_wrong_type_names_key(tmp_path, text, key):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"'{key}'"):
        load_config(Outer, path)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Outer, tmp_path / "nope.yaml")
    bad = tmp_path / "x.yaml"
    bad.write_text("count: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Outer, bad)


def test_enum_and_validation():
    cfg = config_from_mapping(AlertConfig, {"urgent_bilsky": "1c"})
    assert cfg.urgent_bilsky is BilskyGrade.G1C
    with pytest.raises(ConfigError, match="urgent_bilsky"):
        config_from_mapping(AlertConfig, {"urgent_bilsky": "4"})
    with pytest.raises(ConfigError, match="watch_canal_compromise_pct"):
        config_from_mapping(AlertConfig, {"watch_canal_compromise_pct": 80.0})
    assert config_to_dict(cfg)["urgent_bilsky"] == "1c"


def test_shipped_alert_config_matches_defaults():
    from tests.conftest import REPO

    assert load_config(AlertConfig, REPO / "configs" / "alert.yaml") == AlertConfig()
