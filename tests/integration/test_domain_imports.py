"""The domain packages import in a fresh interpreter without the web, mail, queue or browser libraries.

Integration layer: it starts another Python (the unit layer's gate refuses processes).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ("accounts", "cases", "workflow", "oversight", "packaging")


def test_the_domain_packages_import_without_huey_smtp_flask_or_a_browser():
    """A fresh interpreter in which huey, smtplib, Flask and Playwright cannot be imported still imports
    every domain module (printing and capturing go through the Runtime)."""
    code = """
import importlib, pkgutil, sys
blocked = ("huey", "smtplib", "flask", "flask_login", "flask_wtf", "flask_babel", "werkzeug", "playwright")
for name in blocked:
    sys.modules[name] = None
failed = {}
for package in sys.argv[1:]:
    root = importlib.import_module("tracker." + package)
    for info in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
        try:
            importlib.import_module(info.name)
        except ImportError as exc:
            failed[info.name] = str(exc)
print(repr(failed))
"""
    out = subprocess.run([sys.executable, "-c", code, *DOMAIN], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert ast.literal_eval(out.strip().splitlines()[-1]) == {}
