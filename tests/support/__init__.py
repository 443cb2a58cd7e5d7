"""Helpers shared by the tests of all three layers (tests/unit, tests/integration, tests/e2e).

Test modules import shared code from here, never from another test module or from benchmarks/
(tests/unit/test_test_layout.py checks both).
"""
from pathlib import Path

#: the project's root folder (where pyproject.toml is)
ROOT = Path(__file__).resolve().parents[2]
