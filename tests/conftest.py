import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def arterial():
    from greenwave.network import World
    from greenwave.scenario import load_scenario

    return World.build(load_scenario(ROOT / "scenarios" / "zibo_arterial.toml"))
