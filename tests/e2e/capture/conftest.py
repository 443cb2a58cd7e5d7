"""Shared fixtures for the capture engine tests: the fixture site and one Capturer per test module."""
from __future__ import annotations

import pytest

from capture.engine import Capturer
from tests.support.engine_helpers import options_for
from tests.support.fixture_site import FixtureSite


@pytest.fixture(scope="session")
def fixture_site():
    with FixtureSite() as site:
        yield site


@pytest.fixture(scope="module")
def capturer(fixture_site):
    """One browser and proxy for the whole test module (launching costs about a second)."""
    with Capturer(options_for(fixture_site)) as c:
        yield c
