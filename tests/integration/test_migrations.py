"""Alembic owns the schema: empty → head on SQLite and PostgreSQL, and the models match the migrations."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from storage.db import alembic_config, current_revision, make_engine, upgrade
from storage.models import Base
from tracker.oversight.search import is_search_index_object


def head_revision(url: str) -> str:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


@pytest.fixture
def empty_db_url(database_url, tmp_path) -> str:
    return database_url or f"sqlite:///{tmp_path / 'empty.sqlite3'}"


def test_an_empty_database_migrates_to_head(empty_db_url):
    engine = make_engine(empty_db_url)
    try:
        assert inspect(engine).get_table_names() == []
        upgrade(empty_db_url)
        assert current_revision(engine) == head_revision(empty_db_url)
        tables = {t for t in inspect(engine).get_table_names() if not is_search_index_object(t, "table")}
        assert set(Base.metadata.tables) | {"alembic_version"} == tables
        upgrade(empty_db_url)  # running it again is a no-op
        assert current_revision(engine) == head_revision(empty_db_url)
    finally:
        engine.dispose()


# migration 0018's indexes on expressions are search indexes outside the models too; SQLAlchemy cannot reflect
# them and says so before include_name skips them
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_the_models_and_the_migrated_schema_do_not_drift(empty_db_url):
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={
                "compare_type": True, "compare_server_default": True,
                "include_name": lambda name, type_, parents: not is_search_index_object(name, type_, parents)})
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_sqlite_connections_use_wal_and_enforce_foreign_keys(tmp_path):
    url = f"sqlite:///{tmp_path / 'pragmas.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        # enforced, not just switched on: a case pointing at no unit is refused
        from sqlalchemy.exc import IntegrityError

        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    "INSERT INTO cases (ref, unit_id, employee_id, reported_by_id, description, status, created_at) "
                    "VALUES ('V-2026-99999', 4711, 4711, 4711, '', 'open', '2026-11-26 10:00:00')")
    finally:
        engine.dispose()


def test_postgresql_tests_leave_public_untouched(pg_url):
    # the fixture points search_path at a fresh schema; the migration must land there, not in public
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
        assert schema.startswith("vaern_t_")
        assert "alembic_version" in inspect(engine).get_table_names(schema=schema)
        assert "alembic_version" not in inspect(engine).get_table_names(schema="public")
    finally:
        engine.dispose()
