"""Shared fixtures for all three layers (tests/unit, tests/integration, tests/e2e): databases, Redis, runtimes.

Each test is marked with its layer (``-m unit``, ``-m integration``, ``-m e2e``); README "Tests" says
what belongs where. SQLite runs everywhere. PostgreSQL and Redis run against real servers when
VAERN_TEST_DATABASE_URL / VAERN_TEST_REDIS_URL are set (CI sets both); without them those
tests skip with a reason. Each PostgreSQL test gets its own schema, dropped afterwards; each
Redis test gets its own queue name, whose keys alone are deleted afterwards. A new SQLite database
is a copy of one migrated by Alembic once per run (tests/support/database.py).
Test data comes from the factories in tests/support/factories.py.
"""
from __future__ import annotations

import os

import pytest

from tests.support.database import fresh_pg_schema, new_runtime
from tests.support.factories import make_settings
from tracker.adapters.runtime import Runtime


LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config, items):
    """Mark every test with the layer its folder names (tests/<layer>/...)."""
    root = config.rootpath / "tests"
    for item in items:
        parts = item.path.relative_to(root).parts if item.path.is_relative_to(root) else ()
        if parts and parts[0] in LAYERS:
            item.add_marker(parts[0])


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose search_path is a fresh schema (dropped after the test)."""
    base = os.environ.get("VAERN_TEST_DATABASE_URL")
    if not base:
        pytest.skip("VAERN_TEST_DATABASE_URL not set: PostgreSQL tests need a server "
                    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test; CI sets it)")
    with fresh_pg_schema(base) as url:
        yield url


@pytest.fixture
def redis_url():
    url = os.environ.get("VAERN_TEST_REDIS_URL")
    if not url:
        pytest.skip("VAERN_TEST_REDIS_URL not set: Redis tests need a server "
                    "(e.g. redis://127.0.0.1:6379/0; CI sets it)")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.scaleout)])
def database_url(request) -> str | None:
    """None (SQLite file in the test's data directory) or a PostgreSQL schema URL."""
    return None if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
def make_runtime(tmp_path):
    """Build Runtimes from settings overrides; all are closed (and their Redis keys deleted) afterwards."""
    made: list[Runtime] = []

    def make(**overrides) -> Runtime:
        data_dir = overrides.pop("data_dir", tmp_path / f"data{len(made)}")
        rt = new_runtime(make_settings(data_dir, **overrides))
        made.append(rt)
        return rt

    yield make
    for rt in made:
        if rt.settings.redis_url and rt._huey is not None:
            rt.huey.storage.flush_all()  # only this test's queue name
        rt.close()


@pytest.fixture
def runtime(database_url, make_runtime) -> Runtime:  # this order: the schema outlives the runtime
    """A migrated Runtime on SQLite and (when configured) on PostgreSQL."""
    return make_runtime(database_url=database_url)
