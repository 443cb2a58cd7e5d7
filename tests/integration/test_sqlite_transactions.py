"""The embedded database never stalls: reads take no write lock, writers upgrade safely (SQLite)."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from storage.models import AuditEvent, Case, Role, User
from tests.support.factories import make_case, make_unit, make_user
from tracker.oversight import audit


def _employee(rt) -> int:
    with rt.transaction() as s:
        return make_user(s, Role.employee, make_unit(s)).id


def test_sqlite_runs_wal_with_full_synchronous_commits(make_runtime):
    rt = make_runtime()
    with rt.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_an_open_read_transaction_does_not_block_a_writer(make_runtime):
    rt = make_runtime()
    user_id = _employee(rt)
    reader = rt.Session()  # like a web request that read and keeps its transaction (a PDF prints)
    assert reader.execute(select(func.count()).select_from(Case)).scalar() == 0
    committed: list[bool] = []

    def write():
        with rt.transaction() as s:
            make_case(s, s.get(User, user_id))
        committed.append(True)

    try:
        t = threading.Thread(target=write)
        t.start()
        t.join(40)  # a blocked writer gives up after SQLite's 30 s busy timeout ("database is locked")
        assert committed and not t.is_alive(), "the writer could not commit while the reader's transaction was open"
        with rt.Session() as s:
            assert s.execute(select(func.count()).select_from(Case)).scalar() == 1
    finally:
        reader.close()


def test_a_reader_that_starts_writing_after_another_commit_chains_onto_the_newest_event(make_runtime):
    rt = make_runtime()
    user_id = _employee(rt)
    request = rt.Session()  # deferred: its snapshot predates the other writer's commit below
    try:
        actor = request.get(User, user_id)
        request.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
        with rt.transaction() as other:
            newest = audit.record(other, None, "test.other", "case", "-").hash
        ev = audit.record(request, actor, "case.list", "case", "-", count=0)  # upgrades, no "database is locked"
        request.commit()
        assert ev.prev_hash == newest
    finally:
        request.close()
    with rt.Session() as s:
        assert audit.verify_chain(s) == []


def test_many_request_sessions_reading_then_writing_at_once_keep_one_chain_and_unique_case_refs(make_runtime):
    rt = make_runtime()
    user_id = _employee(rt)
    n, errors = 12, []
    barrier = threading.Barrier(n)

    def request():
        try:
            with rt.Session() as s:  # read first (deferred), then write: the web request's shape
                user = s.get(User, user_id)
                s.execute(select(func.count()).select_from(Case)).scalar()
                barrier.wait(10)
                make_case(s, user)
                audit.record(s, user, "case.list", "case", "-")
                s.commit()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))

    threads = [threading.Thread(target=request) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with rt.Session() as s:
        refs = list(s.execute(select(Case.ref)).scalars())
        assert len(refs) == n and len(set(refs)) == n
        assert audit.verify_chain(s) == []
