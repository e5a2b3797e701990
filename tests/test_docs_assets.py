"""The web client's files and the API documentation pages, served from the package (no CDN).

Checked over the app's test client: every page's HTML names no http(s):// URL and every asset
it references answers 200 with a type the browser accepts; the static route serves nothing
outside ``api/static``; every file there ships in the wheel (package data in pyproject.toml);
the vendored assets match the checksums and keep the licences their README lists.  The pages in
a real browser: tests/test_web_client.py.
"""

import hashlib
import re
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from greenwave.api.main import create_app
from greenwave.api.routes.client import STATIC_DIR
from greenwave.api.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
REF = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
IMPORT = re.compile(r"""(?:import|from)\s*["'](\.[^"']+)["']""")
EXTERNAL = re.compile(r"https?://", re.IGNORECASE)
JS_TYPES = ("text/javascript", "application/javascript")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(state_dir=tmp_path_factory.mktemp("state"))
    with TestClient(create_app(settings)) as c:
        yield c


def _refs(html: str) -> list[str]:
    return [r for r in REF.findall(html) if not r.startswith(("#", "data:"))]


@pytest.mark.parametrize("page", ["/", "/docs", "/redoc"])
def test_page_is_offline_and_its_assets_load(client, page):
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert not EXTERNAL.search(r.text), EXTERNAL.findall(r.text)
    refs = _refs(r.text)
    assert refs, "the page references no assets"
    for ref in refs:
        url = ref if ref.startswith("/") else "/" + ref  # relative to "/"
        a = client.get(url)
        assert a.status_code == 200, (page, ref, a.status_code)
        if ref.endswith(".js"):
            # Module scripts are refused with any other type (strict MIME checking).
            assert a.headers["content-type"].startswith(JS_TYPES), (ref, a.headers)
        if ref.endswith(".css"):
            assert a.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_use_the_local_schema_and_assets(client, page):
    html = client.get(page).text
    assert "/openapi.json" in html
    assert "/static/vendor/" in html
    assert client.get("/openapi.json").status_code == 200
    if page == "/docs":
        # The validator badge would send the schema to validator.swagger.io.
        assert '"validatorUrl": null' in html


def test_client_modules_are_served_and_self_contained(client):
    """Every ES module the client imports is served as JavaScript; no file of the client
    (outside vendor/) names an external URL."""
    for path in sorted(STATIC_DIR.rglob("*")):
        rel = path.relative_to(STATIC_DIR)
        if rel.parts[0] == "vendor" or path.suffix not in {".html", ".js", ".css", ".webmanifest"}:
            continue
        text = path.read_text(encoding="utf-8")
        assert not EXTERNAL.search(text), (rel, EXTERNAL.findall(text))
        if path.suffix == ".js":
            for imp in IMPORT.findall(text):
                target = (path.parent / imp).resolve()
                assert target.is_file(), (rel, imp)
                url = "/static/" + target.relative_to(STATIC_DIR).as_posix()
                r = client.get(url)
                assert r.status_code == 200 and r.headers["content-type"].startswith(JS_TYPES)


def test_root_path_prefix(tmp_path):
    """Behind a proxy that mounts the service under a prefix, the docs pages point there."""
    app = create_app(Settings(state_dir=tmp_path))
    with TestClient(app, root_path="/gw") as c:
        html = c.get("/docs").text
    assert "/gw/openapi.json" in html and "/gw/static/vendor/swagger-ui/" in html


@pytest.mark.parametrize(
    "path",
    [
        "/static/%2e%2e/main.py",
        "/static/..%2fmain.py",
        "/static/..%2f..%2fpyproject.toml",
        "/static/js",
        "/static/",
        "/static/nope.js",
        "/static//etc/passwd",
    ],
)
def test_static_serves_nothing_outside_its_directory(client, path):
    r = client.get(path)
    # Refused by the route's own check (not merely unrouted), and nothing of the file leaks.
    assert r.status_code == 404 and "no file" in r.json()["detail"]
    assert "def " not in r.text and "[project]" not in r.text


def test_static_revalidation(client):
    r = client.get("/static/app.css")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
    etag = r.headers["etag"]
    again = client.get("/static/app.css", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.head("/").status_code == 200


def test_client_routes_stay_out_of_the_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p in {"/", "/docs", "/redoc"} or p.startswith("/static")]


def test_every_static_file_ships_in_the_wheel():
    """pyproject's package data for greenwave.api covers every file under api/static."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = conf["tool"]["setuptools"]["package-data"]["greenwave.api"]
    covered = {p for pat in patterns for p in (ROOT / "api").glob(pat) if p.is_file()}
    files = {p for p in STATIC_DIR.rglob("*") if p.is_file()}
    assert files and files <= covered, sorted(str(p) for p in files - covered)


def test_vendored_assets_match_their_readme():
    """The README's checksums are the files' (so the versions it names are the ones shipped),
    and each vendored package keeps its licence."""
    vendor = STATIC_DIR / "vendor"
    readme = (vendor / "README.md").read_text(encoding="utf-8")
    sums = re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.MULTILINE)
    assert len(sums) == 3
    for digest, rel in sums:
        assert hashlib.sha256((vendor / rel).read_bytes()).hexdigest() == digest, rel
    for d in ("swagger-ui", "redoc"):
        assert (vendor / d / "LICENSE").stat().st_size > 500
    assert "Apache License" in (vendor / "swagger-ui" / "LICENSE").read_text(encoding="utf-8")
    assert "MIT" in (vendor / "redoc" / "LICENSE").read_text(encoding="utf-8")
