"""Imports point down only: webui → tracker → capture, storage; capture imports nothing of ours."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("webui", "tracker", "capture", "storage")
#: what each package may import of Værn's own packages
ALLOWED = {
    "webui": {"webui", "tracker", "capture", "storage"},
    "tracker": {"tracker", "capture", "storage"},
    "storage": {"storage"},
    "capture": {"capture"},
}
NO_FLASK = ("tracker", "capture", "storage")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_packages_below_it(package):
    wrong = {}
    for path in (ROOT / package).rglob("*.py"):
        ours = imports_of(path) & set(PACKAGES)
        if ours - ALLOWED[package]:
            wrong[str(path.relative_to(ROOT))] = sorted(ours - ALLOWED[package])
    assert wrong == {}


@pytest.mark.parametrize("package", NO_FLASK)
def test_only_the_web_layer_imports_flask(package):
    users = [str(p.relative_to(ROOT)) for p in (ROOT / package).rglob("*.py")
             if imports_of(p) & {"flask", "flask_login", "flask_wtf", "flask_babel", "werkzeug"}]
    assert users == []


def test_only_the_settings_module_reads_the_environment():
    readers = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "os.environ" in text or "os.getenv" in text:
                readers.append(str(path.relative_to(ROOT)))
    assert readers == []


def test_every_data_file_of_the_packages_is_declared_as_package_data():
    """A wheel (non-editable install) carries templates, rules, migrations and the demo post."""
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    covered: set[Path] = set()
    for package, patterns in declared.items():
        base = ROOT.joinpath(*package.split("."))
        for pattern in patterns:
            matched = {p for p in base.glob(pattern) if p.is_file()}
            assert matched, f"{package}: pattern {pattern!r} matches nothing"
            covered |= matched
    missing = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts:
                if path not in covered:
                    missing.append(str(path.relative_to(ROOT)))
    migrations = {p for p in (ROOT / "storage" / "migrations").rglob("*.py") if "__pycache__" not in p.parts}
    assert migrations <= covered, "Alembic's env.py and versions/*.py must ship (storage.migrations is no package)"
    assert missing == []
