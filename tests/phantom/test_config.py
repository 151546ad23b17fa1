from pathlib import Path

import pytest

from spinedetect.config import load_config
from spinedetect.errors import ConfigError
from spinedetect.phantom import LesionSpec, PhantomConfig

REPO = Path(__file__).resolve().parents[2]


def test_shipped_yaml_equals_defaults():
    assert load_config(PhantomConfig, REPO / "configs" / "phantom.yaml") == PhantomConfig()


@pytest.mark.parametrize("text, key", [
    ("anatomy: {first_level: X9}\n", "first_level"),
    ("anatomy: {first_level: L5, last_level: L1}\n", "below"),
    ("pathology: {p_clean: 1.5}\n", "p_clean"),
    ("imaging: {modality: PET}\n", "imaging.modality"),
    ("imaging: {colour: red}\n", "imaging.colour"),
    ("pathology: {lesions: [{level: L1, site: body, genant: 2, bilsky: '4'}]}\n", "bilsky"),
])
def test_bad_config_is_a_clear_config_error(tmp_path, text, key):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(PhantomConfig, path)
    assert key in str(exc.value)
    assert "\n" not in str(exc.value)


def test_lesion_outside_the_level_range_is_refused():
    with pytest.raises(ValueError, match="outside the levels"):
        from spinedetect.phantom import AnatomyConfig, PathologyConfig
        PhantomConfig(anatomy=AnatomyConfig(first_level="L1", last_level="L5"),
                      pathology=PathologyConfig(lesions=(LesionSpec(level="T5"),)))
