"""Shared fixtures for the capture engine tests: the fixture site and one Capturer per test module."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))

from engine_helpers import options_for  # noqa: E402
from fixture_site import FixtureSite  # noqa: E402

from capture.engine import Capturer  # noqa: E402


@pytest.fixture(scope="session")
def fixture_site():
    with FixtureSite() as site:
        yield site


@pytest.fixture(scope="module")
def capturer(fixture_site):
    """One browser and proxy for the whole test module (launching costs about a second)."""
    with Capturer(options_for(fixture_site)) as c:
        yield c
