"""Cases, the audit chain and users on SQLite and PostgreSQL (the ``runtime`` fixture runs both)."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
import time_machine
from sqlalchemy import delete, func, select, update

from storage.models import AuditEvent, Case, CaseCounter, Evidence, EvidenceState, Role, User
from tests.support.factories import PASSWORD, make_case, make_unit, make_user
from tracker.oversight import audit
from tracker.oversight.audit import verify_chain
from tracker.errors import DomainError
from tracker.accounts.users import authenticate


@pytest.fixture
def employee_id(runtime) -> int:
    with runtime.transaction() as s:
        return make_user(s, Role.employee, make_unit(s)).id


def open_case_as(runtime, user_id: int, **kw) -> Case:
    with runtime.transaction() as s:
        return make_case(s, s.get(User, user_id), **kw)


def test_cases_get_sequential_references_per_year(runtime, employee_id):
    year = datetime.now(timezone.utc).year
    first = open_case_as(runtime, employee_id)
    second = open_case_as(runtime, employee_id)
    assert (first.ref, second.ref) == (f"V-{year}-00001", f"V-{year}-00002")
    with time_machine.travel(datetime(year + 1, 1, 1, 0, 5, tzinfo=timezone.utc)):
        assert open_case_as(runtime, employee_id).ref == f"V-{year + 1}-00001"


def test_opening_a_case_records_it_its_evidence_and_the_audit_events(runtime, employee_id):
    case = open_case_as(runtime, employee_id, url="https://example.org/p/1", description="Trusler på Facebook")
    with runtime.Session() as s:
        row = s.execute(select(Case).where(Case.ref == case.ref)).scalar_one()
        assert row.employee_id == employee_id and row.description == "Trusler på Facebook"
        [ev] = s.execute(select(Evidence).where(Evidence.case_id == row.id)).scalars()
        assert (ev.kind, ev.source_url, ev.state) == ("url", "https://example.org/p/1", EvidenceState.queued)
        actions = list(s.execute(select(AuditEvent.action).where(AuditEvent.case_id == row.id)
                                 .order_by(AuditEvent.id)).scalars())
        assert actions == ["case.create", "evidence.request"]
        assert verify_chain(s) == []


def test_cases_opened_at_the_same_moment_get_distinct_references(runtime, employee_id):
    n = 4
    barrier, refs, errors = threading.Barrier(n), [], []

    def report():
        try:
            barrier.wait()
            refs.append(open_case_as(runtime, employee_id).ref)
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=report) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    year = datetime.now(timezone.utc).year
    assert sorted(refs) == [f"V-{year}-{i:05d}" for i in range(1, n + 1)]
    with runtime.Session() as s:
        assert verify_chain(s) == []


def chain_with_events(runtime, n: int = 5) -> list[int]:
    with runtime.transaction() as s:
        actor = make_user(s, Role.hr)
        for i in range(n):
            audit.record(s, actor, "case.view", "case", f"V-2026-{i:05d}", None, note="læst æøå", n=i)
    with runtime.Session() as s:
        assert verify_chain(s) == []
        return list(s.execute(select(AuditEvent.id).order_by(AuditEvent.id)).scalars())


def test_the_audit_chain_detects_an_edited_event(runtime):
    ids = chain_with_events(runtime)
    target = ids[len(ids) // 2]
    with runtime.transaction() as s:
        s.execute(update(AuditEvent).where(AuditEvent.id == target).values(details={"note": "ændret", "n": 0}))
    with runtime.Session() as s:
        problems = verify_chain(s)
    assert problems == [f"audit event {target}: content does not match its hash (edited)"]


def test_the_audit_chain_detects_a_deleted_event(runtime):
    ids = chain_with_events(runtime)
    target = ids[len(ids) // 2]
    with runtime.transaction() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.id == target))
    with runtime.Session() as s:
        problems = verify_chain(s)
    following = ids[ids.index(target) + 1]
    assert problems == [f"audit event {following}: previous-hash link broken "
                        "(an event before it was removed or inserted)"]


def test_the_audit_chain_detects_an_inserted_event(runtime):
    ids = chain_with_events(runtime)
    with runtime.Session() as s:
        events = list(s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())
    # a forged event, correctly self-hashed, claiming to follow an event in the middle
    after = events[1]
    at = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
    forged_hash = audit.event_hash(after.hash, at=at.isoformat(), actor_id=None, action="case.view",
                                   object_type="case", object_id="V-2026-00001", case_id=None, details={})
    with runtime.transaction() as s:
        s.add(AuditEvent(id=ids[-1] + 1, at=at, actor_id=None, action="case.view", object_type="case",
                         object_id="V-2026-00001", case_id=None, details={}, prev_hash=after.hash,
                         hash=forged_hash))
    with runtime.Session() as s:
        problems = verify_chain(s)
    assert problems == [f"audit event {ids[-1] + 1}: previous-hash link broken "
                        "(an event before it was removed or inserted)"]


def test_unknown_email_and_wrong_password_both_return_none(runtime):
    with runtime.transaction() as s:
        user = make_user(s, Role.employee, make_unit(s), email="Mette@Kommune.dk")
    with runtime.Session() as s:
        assert authenticate(s, "ukendt@kommune.dk", PASSWORD) is None
        assert authenticate(s, "mette@kommune.dk", PASSWORD + "x") is None
        assert authenticate(s, "  METTE@kommune.dk ", PASSWORD).id == user.id
    with runtime.transaction() as s:
        s.execute(update(User).where(User.id == user.id).values(active=False))
    with runtime.Session() as s:
        assert authenticate(s, "mette@kommune.dk", PASSWORD) is None


def test_a_duplicate_email_is_refused(runtime):
    with runtime.transaction() as s:
        unit = make_unit(s)
        make_user(s, Role.employee, unit, email="lars@kommune.dk")
    with pytest.raises(DomainError) as info:
        with runtime.transaction() as s:
            make_user(s, Role.leader, s.merge(unit), email="LARS@kommune.dk ")
    assert info.value.code == "user_exists"
    with runtime.Session() as s:
        assert s.execute(select(func.count()).select_from(User)).scalar() == 1
        assert s.execute(select(func.count()).select_from(CaseCounter)).scalar() == 0


def test_the_case_list_keeps_every_open_case_however_old_and_only_the_latest_closed_ones(runtime, employee_id):
    from tracker.cases.register import list_cases_for

    oldest_open = open_case_as(runtime, employee_id)
    closed = [open_case_as(runtime, employee_id) for _ in range(3)]
    with runtime.transaction() as s:
        s.execute(update(Case).where(Case.id.in_([c.id for c in closed])).values(status="closed"))
    with runtime.Session() as s:
        refs = [c.ref for c in list_cases_for(s, s.get(User, employee_id), closed_limit=1)]
    assert refs == [oldest_open.ref, closed[-1].ref]
