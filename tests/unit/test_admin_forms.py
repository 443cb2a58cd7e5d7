"""The operation layer and the forms of the admin, HR, statistics and login pages: the tracker functions
check the role themselves (the pages are not the only callers) and audit; the forms re-render a refusal in
Danish with what was typed; the request, not the view, commits."""
from __future__ import annotations

import re
from datetime import date

import pytest
from flask import Flask
from flask_babel import Babel
from sqlalchemy import func, select

from storage.models import ApiToken, AuditEvent, OrgUnit, Role, User
from storage.types import utcnow
from tests.support.factories import PASSWORD, csrf_login, make_unit, make_user
from tracker.accounts import admin as admin_ops
from tracker.accounts import login, tokens
from tracker.errors import DomainError, NotFound
from tracker.oversight import offenders, search, statistics
from webui.app import create_app
from webui.forms.hr import AuditLogForm, CaseSearchForm

TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@pytest.fixture
def org(make_runtime):
    rt = make_runtime()
    with rt.transaction() as s:
        unit = make_unit(s, "Jobcenter")
        people = {role: make_user(s, role, unit if role in (Role.employee, Role.leader, Role.amr) else None,
                                  email=f"{role.value}@kommune.dk")
                  for role in Role}
        ids = {role: u.id for role, u in people.items()}
    return rt, ids, unit.id


def _events(rt, action: str) -> list[AuditEvent]:
    with rt.Session() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


# -- the operations check the role themselves --------------------------------------------------------
@pytest.mark.parametrize("role", [Role.employee, Role.leader, Role.hr, Role.amr])
def test_only_an_administrator_or_the_shell_may_administer(org, role):
    rt, ids, unit_id = org
    with rt.transaction() as s:
        actor = s.get(User, ids[role])
        with pytest.raises(NotFound):
            admin_ops.create_unit(s, actor, "Borgerservice")
        with pytest.raises(NotFound):
            admin_ops.create_user(s, actor, email="ny@kommune.dk", name="Ny", role="hr", unit_id=None)
        with pytest.raises(NotFound):
            admin_ops.reset_password(s, actor, s.get(User, ids[Role.employee]))
        with pytest.raises(NotFound):
            admin_ops.list_users(s, viewer=actor)
        with pytest.raises(NotFound):
            tokens.list_tokens(s, s.get(User, ids[Role.employee]), actor)
        # the shell (None) and an administrator may
        admin_ops.create_unit(s, None, "Borgerservice")
        admin_ops.create_unit(s, s.get(User, ids[Role.admin]), "Ældrepleje")
    created = {e.details["name"]: e.actor_id for e in _events(rt, "unit.create")}
    assert (created["Borgerservice"], created["Ældrepleje"]) == (None, ids[Role.admin])


def test_a_token_is_revoked_only_through_its_own_user(org):
    rt, ids, _unit = org
    with rt.transaction() as s:
        row, _secret = tokens.create_token(s, s.get(User, ids[Role.hr]), "integration")
        token_id = row.id
    with rt.transaction() as s:
        admin = s.get(User, ids[Role.admin])
        with pytest.raises(NotFound):
            tokens.revoke_user_token(s, admin, ids[Role.leader], token_id)
        with pytest.raises(NotFound):
            tokens.revoke_user_token(s, s.get(User, ids[Role.hr]), ids[Role.hr], token_id)
        row, revoked = tokens.revoke_user_token(s, admin, ids[Role.hr], token_id)
        assert revoked and tokens.revoke_user_token(s, admin, ids[Role.hr], token_id)[1] is False
    with rt.Session() as s:
        assert s.get(ApiToken, token_id).revoked_at is not None
    assert [e.actor_id for e in _events(rt, "token.revoke")] == [ids[Role.admin]]


def test_an_empty_chosen_password_is_refused_not_replaced_by_a_generated_one(org):
    rt, _ids, unit_id = org
    with rt.transaction() as s, pytest.raises(DomainError) as refused:
        admin_ops.create_user(s, None, email="tom@kommune.dk", name="Tom", role="leader", unit_id=unit_id,
                              password="")
    assert refused.value.code == "password_short"


def test_statistics_are_read_by_hr_leaders_and_amr_and_the_page_and_csv_are_audited_but_not_the_chart(org):
    rt, ids, unit_id = org
    period = statistics.make_period(date(2026, 1, 1), date(2026, 6, 30))
    with rt.transaction() as s:
        with pytest.raises(NotFound):
            statistics.read_statistics(s, s.get(User, ids[Role.employee]), period, rt.rules, utcnow())
        for purpose in ("view", "export", "chart"):
            statistics.read_statistics(s, s.get(User, ids[Role.leader]), period, rt.rules, utcnow(),
                                       purpose=purpose)
    views, exports = _events(rt, "stats.view"), _events(rt, "stats.export")
    assert [(e.object_id, e.details["scope"]) for e in views] == [(period.label, unit_id)]
    assert [e.details["format"] for e in exports] == ["csv"]


def test_the_case_search_is_hrs_and_is_audited_with_what_was_asked(org):
    rt, ids, _unit = org
    with rt.transaction() as s:
        with pytest.raises(NotFound):
            search.find_cases(s, s.get(User, ids[Role.leader]), search.CaseFilters())
        result = search.find_cases(s, s.get(User, ids[Role.hr]), search.CaseFilters(text="trusler"),
                                   asked={"q": "trusler", "employee": ""})
    assert result.total == 0
    [event] = _events(rt, "case.search")
    assert event.details["q"] == "trusler" and "employee" not in event.details


def test_the_offender_list_past_its_last_page_is_not_found_and_a_page_is_audited(org):
    rt, ids, _unit = org
    with rt.transaction() as s:
        hr = s.get(User, ids[Role.hr])
        listed = offenders.list_offenders(s, hr, page=1)
        assert (listed.total, listed.pages) == (0, 1)
        with pytest.raises(NotFound):
            offenders.list_offenders(s, hr, page=2)
    assert len(_events(rt, "offender.list")) == 1


def test_a_wrong_current_password_is_counted_and_audited_and_the_new_one_is_not_set(org):
    rt, ids, _unit = org
    limits = login.Limits(5, 20)
    with rt.transaction() as s:
        user = s.get(User, ids[Role.employee])
        before = user.password_hash
        done = login.change_password(s, user, current="forkert-kode-123", new="helt-ny-kode-9", repeat="helt-ny-kode-9",
                                     address="10.0.0.1", limits=limits)
        assert done.refused == "wrong_current" and user.password_hash == before
        assert login.change_password(s, user, current=PASSWORD, new="helt-ny-kode-9", repeat="en-anden-kode-9",
                                     address="10.0.0.1", limits=limits).refused == "mismatch"
    assert [e.details["reason"] for e in _events(rt, "auth.password_change_refused")] == ["current_password"]


# -- the GET forms ----------------------------------------------------------------------------------
def test_a_filter_form_keeps_the_typed_text_and_names_what_it_could_not_read():
    app = Flask(__name__)
    Babel(app)
    url = "/?q=%20trusler%20&unit=x&from=31.02.2026&to=1.3.2026&after=zz&extra=1"
    with app.test_request_context(url):
        form = CaseSearchForm()
        assert form.texts()["q"] == "trusler" and form.end.day == date(2026, 3, 1)
        assert set(form.problems()) == {"unit", "from"}  # the cursor is quiet: a stale link is the first page
        assert form.after.number is None and form.link_args("after") == {
            "q": "trusler", "unit": "x", "from": "31.02.2026", "to": "1.3.2026"}
    with app.test_request_context("/?case=" + "x" * 300 + "&before=120"):
        form = AuditLogForm()
        assert len(form.texts()["case"]) == 200 and form.before.number == 120 and not form.problems()


# -- the pages: Danish refusals, what was typed kept, the request commits ------------------------------
def test_a_refused_user_form_is_shown_again_in_danish_with_what_was_typed_and_nothing_is_saved(org):
    rt, _ids, unit_id = org
    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    client = csrf_login(app, "admin@kommune.dk")
    client.get("/?lang=da")
    token = TOKEN.search(client.get("/admin/users/new").get_data(as_text=True)).group(1)
    with rt.Session() as s:
        users = s.execute(select(func.count()).select_from(User)).scalar()
    resp = client.post("/admin/users/new", data={"csrf_token": token, "name": "Nina Ny", "email": "ikke-en-adresse",
                                                 "role": "leader", "unit": str(unit_id)})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Skriv en gyldig e-mailadresse." in page
    assert 'value="Nina Ny"' in page and 'value="ikke-en-adresse"' in page
    assert re.search(rf'<option value="{unit_id}" selected>', page)
    resp = client.post("/admin/units", data={"csrf_token": token, "name": "   "})
    assert resp.status_code == 400 and "Skriv enhedens navn (højst 200 tegn)." in resp.get_data(as_text=True)
    with rt.Session() as s:
        assert s.execute(select(func.count()).select_from(User)).scalar() == users
        assert s.execute(select(func.count()).select_from(OrgUnit)).scalar() == 1
    # a change the view does not commit itself is committed by the request
    resp = client.post("/admin/units", data={"csrf_token": token, "name": "Borgerservice"})
    assert resp.status_code == 302
    with rt.Session() as s:
        assert s.execute(select(OrgUnit).where(OrgUnit.name == "Borgerservice")).scalar() is not None
