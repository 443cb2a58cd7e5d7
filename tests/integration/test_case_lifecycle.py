"""A case's category and its closing and reopening: who may, what is kept, what is audited."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Case
from tests.support.factories import CSRF_TOKEN, csrf_login, make_case, make_settings, make_unit, make_user
from tests.support.database import new_runtime
from tracker.cases import lifecycle
from tracker.errors import DomainError, NotFound
from webui.app import create_app


def _people(session):
    a, b = make_unit(session, "Jobcenter"), make_unit(session, "Borgerservice")
    employee = make_user(session, "employee", a)
    return {"employee": employee, "leader": make_user(session, "leader", a), "amr": make_user(session, "amr", a),
            "hr": make_user(session, "hr", b), "leader-b": make_user(session, "leader", b)}


def test_the_leader_sets_the_category_and_closes_and_reopens_the_case_with_reasons(runtime):
    with runtime.transaction() as s:
        p = _people(s)
        case = make_case(s, p["employee"])
        assert lifecycle.set_category(s, case, p["leader"], "digital_threat") is True
        assert lifecycle.set_category(s, case, p["leader"], "digital_threat") is False  # no change, no event
        lifecycle.close_case(s, case, p["leader"], "  Opslaget er fjernet, og vi har fulgt op.  ")
        assert case.status == "closed" and case.closed_at is not None
        lifecycle.reopen_case(s, case, p["hr"], "Nye opslag fra samme profil")
        assert case.status == "open" and case.closed_at is None
        actions = [(e.action, e.details) for e in s.execute(
            select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id)).scalars()]
    assert [a for a, _ in actions if a.startswith("case.") and a != "case.create"] == [
        "case.category", "case.close", "case.reopen"]
    hashes = {a: d.pop("facts_sha256", None) for a, d in actions}  # the changed facts' hashes (tracker.cases.casefacts)
    assert ("case.close", {"note": "Opslaget er fjernet, og vi har fulgt op."}) in actions
    assert ("case.category", {"after": "digital_threat"}) in actions  # before was None: left out
    assert set(hashes["case.category"]) == {"category"} and set(hashes["case.reopen"]) == {"status", "closed_at"}


def test_bad_input_and_the_wrong_people_change_nothing(runtime):
    with runtime.transaction() as s:
        p = _people(s)
        case = make_case(s, p["employee"])
        with pytest.raises(DomainError) as exc:
            lifecycle.set_category(s, case, p["leader"], "spam")
        assert exc.value.code == "bad_category"
        with pytest.raises(DomainError) as exc:
            lifecycle.close_case(s, case, p["leader"], "   ")
        assert exc.value.code == "close_note_empty"
        for who in ("employee", "amr"):  # may read the case, not close it
            with pytest.raises(DomainError) as exc:
                lifecycle.close_case(s, case, p[who], "fordi")
            assert exc.value.code == "not_allowed"
        with pytest.raises(NotFound):  # another unit's leader does not learn the case exists
            lifecycle.close_case(s, case, p["leader-b"], "fordi")
        with pytest.raises(DomainError) as exc:
            lifecycle.reopen_case(s, case, p["leader"], "igen")
        assert exc.value.code == "not_closed"
        assert (case.status, case.category) == ("open", None)


def test_closing_through_the_case_page_needs_csrf_and_a_reason(tmp_path):
    rt = new_runtime(make_settings(tmp_path))
    try:
        with rt.transaction() as s:
            p = _people(s)
            ref = make_case(s, p["employee"]).ref
            emails = {k: u.email for k, u in p.items()}
        app = create_app(runtime=rt)
        app.config.update(TESTING=True)
        leader = csrf_login(app, emails["leader"])
        page = leader.get(f"/cases/{ref}").get_data(as_text=True)
        assert 'for="category"' in page and 'for="close-note"' in page
        token = CSRF_TOKEN.search(page).group(1)
        assert leader.post(f"/cases/{ref}/close", data={"note": "fjernet"}).status_code == 400  # no token
        resp = leader.post(f"/cases/{ref}/close", data={"note": "", "csrf_token": token})
        assert resp.status_code == 302
        assert _status(rt, ref) == "open"
        resp = leader.post(f"/cases/{ref}/facts", data={"category": "digital_harassment", "csrf_token": token})
        assert resp.status_code == 302
        resp = leader.post(f"/cases/{ref}/close", data={"note": "Fjernet og fulgt op", "csrf_token": token})
        assert resp.status_code == 302
        assert _status(rt, ref) == "closed"
        page = leader.get(f"/cases/{ref}").get_data(as_text=True)
        assert "Lukket" in page and "Genåbn sagen" in page
        assert '<option value="digital_harassment" selected>Digital chikane</option>' in page

        employee = csrf_login(app, emails["employee"])
        token = CSRF_TOKEN.search(employee.get(f"/cases/{ref}").get_data(as_text=True)).group(1)
        assert employee.post(f"/cases/{ref}/reopen", data={"note": "igen", "csrf_token": token}).status_code == 403
        other = csrf_login(app, emails["leader-b"])
        token = CSRF_TOKEN.search(other.get("/").get_data(as_text=True)).group(1)
        assert other.post(f"/cases/{ref}/reopen", data={"note": "igen", "csrf_token": token}).status_code == 404
        assert _status(rt, ref) == "closed"
    finally:
        rt.close()


def _status(rt, ref: str) -> str:
    with rt.Session() as s:
        return s.execute(select(Case.status).where(Case.ref == ref)).scalar_one()
