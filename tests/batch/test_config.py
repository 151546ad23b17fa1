from spinedetect.batch import BatchConfig
from spinedetect.config import load_config
from tests.conftest import REPO


def test_shipped_infer_config_is_the_default():
    assert load_config(BatchConfig, REPO / "configs" / "infer.yaml") == BatchConfig()
