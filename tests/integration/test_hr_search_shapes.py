"""HR's case search answers the same whichever side leads (filters or words), on SQLite and PostgreSQL;
so does the audit log, page by page, against the events filtered in Python.

A seeded dataset (tests/support/hr_data.fill), every page of each search against the plainest query
(hr_data.reference_ids: the filters, and the words as the set their full-text index matches), with the
shape forced each way: SQLite's narrow filters (a list of ids under FTS5) or the words leading;
PostgreSQL's case-by-case check or the ids from the GIN index.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from sqlalchemy import select, text

from storage.models import AuditEvent, Case, OrgUnit, User
from tests.support.database import new_runtime
from tests.support.factories import make_settings, make_user
from tests.support.hr_data import RARE, audit_queries, case_queries, fill, reference_ids
from tracker.oversight import history, search

F = search.CaseFilters


def _queries(k: dict) -> dict[str, search.CaseFilters]:
    """The benchmark's searches and more mixes of a narrow or wide filter with a rare or common word."""
    return {**case_queries(k),
            "rare+unit": F(text=RARE, unit_id=k["unit_id"]), "rare+status": F(text=RARE, status="closed"),
            "common+status": F(text="skændsel", status="open"), "prefix+employee": F(text="trus", employee=k["employee"]),
            "two words+period": F(text="åbenlyst løgn", created_from=k["from"], created_to=k["to"] + timedelta(days=200)),
            "common+offender": F(text="kommunen", offender=k["offender"]), "nothing": F(text="zzzyxq"),
            "not assessed+text": F(text="chikane", category=search.NOT_ASSESSED, platform=k["platform"])}


def _every_page(s, user, filters, per_page: int) -> tuple[list[int], int | None]:
    first = search.search_cases(s, user, filters, per_page=per_page)
    ids, after = [c.id for c in first.cases], first.next_after
    while after is not None:
        page = search.search_cases(s, user, filters, after=after, per_page=per_page)
        assert page.total is None
        ids += [c.id for c in page.cases]
        after = page.next_after
    return ids, first.total


#: (SQLite's narrow bound, PostgreSQL's window and common share): the filters always lead (PostgreSQL checks
#: case by case), the words always lead (PostgreSQL: the GIN index), and the shipped values
SHAPES = {"filters lead": (10**9, 10**9, 0.5), "words lead": (0, 1, 2.0),
          "shipped": (search.SQLITE_NARROW, search.PG_WINDOW, search.PG_COMMON_SHARE)}


@pytest.fixture(scope="module")
def seeded_sqlite(tmp_path_factory):
    """One seeded SQLite database for the module (filling takes a few seconds)."""
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("hr-shapes")))
    yield rt, _seed(rt)
    rt.close()


def _seed(rt) -> dict:
    with rt.Session() as s:
        k = fill(s, 2500, units=10, employees=200, offenders=600)
        k["hr_id"] = make_user(s, "hr", None).id
        k["leader_id"] = make_user(s, "leader", s.get(OrgUnit, k["unit_id"])).id
        s.commit()
    return k


def _check_every_query(rt, k: dict, monkeypatch) -> None:
    with rt.Session() as s:
        hr, leader = s.get(User, k["hr_id"]), s.get(User, k["leader_id"])
        for shape, (narrow, window, share) in SHAPES.items():
            monkeypatch.setattr(search, "SQLITE_NARROW", narrow)
            monkeypatch.setattr(search, "PG_WINDOW", window)
            monkeypatch.setattr(search, "PG_COMMON_SHARE", share)
            for name, filters in _queries(k).items():
                want = reference_ids(s, hr, filters)
                got, total = _every_page(s, hr, filters, per_page=200)
                assert got == want, (shape, name, len(got), len(want))
                assert total == min(len(want), search.COUNT_CAP + 1), (shape, name)
                mine = reference_ids(s, leader, filters)  # permission inside the query: only the leader's unit
                assert _every_page(s, leader, filters, per_page=200)[0] == mine, (shape, name)
                assert set(mine) <= set(want)
            s.rollback()
        assert reference_ids(s, hr, F(text=RARE)) and reference_ids(s, hr, F(text="skændsel", unit_id=k["unit_id"]))


def test_sqlite_search_pages_equal_the_plain_query_in_every_shape(seeded_sqlite, monkeypatch):
    rt, k = seeded_sqlite
    _check_every_query(rt, k, monkeypatch)


def test_postgresql_search_pages_equal_the_plain_query_in_every_shape(pg_url, make_runtime, monkeypatch):
    rt = make_runtime(database_url=pg_url)
    _check_every_query(rt, _seed(rt), monkeypatch)


def test_a_leader_finds_only_cases_of_the_own_unit_and_the_rare_word_its_cases(seeded_sqlite):
    rt, k = seeded_sqlite
    with rt.Session() as s:
        leader, hr = s.get(User, k["leader_id"]), s.get(User, k["hr_id"])
        cases = search.search_cases(s, leader, F(text="kommunen"), per_page=200).cases
        assert cases and {c.unit_id for c in cases} == {k["unit_id"]}
        assert sorted(c.ref for c in search.search_cases(s, hr, F(text=RARE)).cases) == k["rare_refs"]


def _audit_wanted(s, filters: history.AuditFilters) -> list[int]:
    """The ids of the events ``filters`` asks for, newest first, by reading every event and filtering here."""
    case_id = s.execute(select(Case.id).where(Case.ref == filters.case_ref)).scalar() if filters.case_ref else None
    return [e.id for e in s.execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars()
            if e.action != "audit.view"  # the readings this test makes
            and (filters.actor_id is None or e.actor_id == filters.actor_id)
            and (not filters.system_only or e.actor_id is None) and (not filters.action or e.action == filters.action)
            and (not filters.case_ref or e.case_id == case_id)
            and (filters.at_from is None or e.at >= filters.at_from) and (filters.at_to is None or e.at < filters.at_to)]


def _check_audit_log(rt, k: dict) -> None:
    with rt.Session() as s:
        hr = s.get(User, k["hr_id"])
        for name, filters in audit_queries(k).items():
            want = _audit_wanted(s, filters)
            got, before = [], None
            while True:
                page = history.audit_log(s, hr, filters, before=before, per_page=100)
                got += [e.event.id for e in page.entries if e.event.action != "audit.view"]
                if page.next_cursor is None:
                    break
                before = page.next_cursor
            assert got == want and want, (name, len(got), len(want))
        # a period that ends is read through its index, never by walking the log backwards by id (PostgreSQL did)
        period = history.audit_ids_query(s, audit_queries(k)["audit period"]).limit(101).compile(
            rt.engine, compile_kwargs={"literal_binds": True})
        explain = "EXPLAIN QUERY PLAN" if rt.engine.dialect.name == "sqlite" else "EXPLAIN"
        plan = " | ".join(str(r[-1]) for r in s.execute(text(f"{explain} {period}")))
        assert "ix_audit_at" in plan and "audit_events_pkey" not in plan, plan
        s.rollback()


def test_sqlite_audit_log_pages_equal_the_events_filtered_in_python(seeded_sqlite):
    _check_audit_log(*seeded_sqlite)


def test_postgresql_audit_log_pages_equal_the_events_filtered_in_python(pg_url, make_runtime):
    rt = make_runtime(database_url=pg_url)
    k = _seed(rt)
    with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))  # the statistics autovacuum would have by now: the planner's real choice
    _check_audit_log(rt, k)
