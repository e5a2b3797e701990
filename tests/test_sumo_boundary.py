"""The SUMO adapter is a package of its own (:mod:`greenwave.sumo`): the core and the
simulator never import it, and greenwave works without SUMO installed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = sorted((ROOT / "greenwave").glob("*.py"))
SIM = sorted((ROOT / "sim").glob("*.py"))
SUMO_MODULES = ("sumo", "sumolib", "libsumo", "traci")


def _imports(path: Path, package: str) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


def test_core_and_simulator_do_not_import_the_adapter():
    assert len(CORE) > 15 and len(SIM) > 10
    offenders = {}
    for path, package in [(p, "greenwave") for p in CORE] + [(p, "greenwave.sim") for p in SIM]:
        bad = sorted(
            m
            for m in _imports(path, package)
            if m == "greenwave.sumo"
            or m.startswith("greenwave.sumo.")
            or m.split(".")[0] in SUMO_MODULES
        )
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}


def test_the_import_check_sees_relative_and_absolute_imports(tmp_path):
    mod = tmp_path / "m.py"
    mod.write_text("from .sumo import export\nimport greenwave.sumo.tools\nfrom . import geo\n")
    found = _imports(mod, "greenwave")
    assert {"greenwave.sumo", "greenwave.sumo.tools", "greenwave.geo"} <= found


def test_greenwave_works_without_sumo(tmp_path):
    """With SUMO's Python modules unimportable: validate runs, export-sumo writes the plain
    files, and importing a .net.xml says how to install the extra (exit 2, no traceback)."""
    code = (
        f"import sys; sys.modules.update(dict.fromkeys({SUMO_MODULES!r})); "
        "from greenwave.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    scen = ROOT / "scenarios" / "zibo_arterial.toml"

    def run(*args):
        return subprocess.run(
            [sys.executable, "-c", code, *map(str, args)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )

    assert run("validate", scen).returncode == 0
    r = run("export-sumo", scen, tmp_path / "out", "--no-netconvert")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "scenario.nod.xml").is_file()
    (tmp_path / "x.net.xml").write_text("<net/>")
    r = run("import-sumo", tmp_path / "x.net.xml", tmp_path / "o.toml")
    assert r.returncode == 2 and "greenwave[sumo]" in r.stderr and "Traceback" not in r.stderr
