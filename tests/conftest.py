import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(autouse=True)
def _app_state(tmp_path, monkeypatch):
    """The app's settings and recovery files go to a temporary folder, never the user's home."""
    monkeypatch.setenv("GRADVIZ_STATE_DIR", str(tmp_path / "gradviz-state"))
