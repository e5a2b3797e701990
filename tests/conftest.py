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


# The advisory service on the default scenario, one per test module (API test modules that
# need other settings define their own ``client``).
@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from fastapi.testclient import TestClient

    from greenwave.api.main import create_app
    from greenwave.api.settings import Settings

    app = create_app(Settings(state_dir=tmp_path_factory.mktemp("state"), token="t0ken"))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def svc(client):
    return client.app.state.service
