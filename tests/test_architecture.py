"""Imports point down only: webui → tracker → capture, storage; capture imports nothing of ours."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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
