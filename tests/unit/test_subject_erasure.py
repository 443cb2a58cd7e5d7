"""Erasure on request (issue 16.4): which cases are kept under which exception of art. 17(3), what the
`subject.erase` event records, and how the offender handout's redaction treats other people's data."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Case, Role, User
from storage.types import utcnow
from tests.support.factories import csrf_login, make_case, make_unit, make_user
from tracker.cases.hold import hold_case
from tracker.cases.lifecycle import close_case
from tracker.errors import DomainError
from tracker.privacy import subject_erasure as se
from tracker.privacy.offender_access import Redactor
from tracker.workflow.erasure import load_exceptions
from tracker.workflow.retention import load_retention_rules
from webui.app import create_app

RULES = load_retention_rules()
CLOSED = RULES.enforced("closed_case")
NOW = utcnow()


def a_case(status="closed", closed_days_ago=None, held=False, erased=False) -> Case:
    return Case(ref="V-2026-00001", status=status,
                closed_at=NOW - timedelta(days=closed_days_ago) if closed_days_ago is not None else None,
                hold_at=NOW if held else None, erased_at=NOW if erased else None)


def test_a_held_case_is_kept_under_legal_hold_even_long_after_its_retention_period():
    assert se.case_decision(a_case(closed_days_ago=20 * 365, held=True), CLOSED, NOW) == ("keep", "legal_hold")
    assert se.case_decision(a_case(closed_days_ago=20 * 365, held=True), CLOSED, NOW,
                            erase_within_retention=True) == ("keep", "legal_hold")


def test_an_open_case_is_kept_and_a_closed_case_past_its_retention_period_is_erased():
    assert se.case_decision(a_case(status="open"), CLOSED, NOW) == ("keep", "open_case")
    assert se.case_decision(a_case(closed_days_ago=6 * 365), CLOSED, NOW) == ("erase", None)
    assert se.case_decision(a_case(erased=True, closed_days_ago=6 * 365), CLOSED, NOW) == ("already_erased", None)


def test_a_closed_case_within_its_retention_period_is_kept_unless_hr_judged_no_claim_needs_it():
    recent = a_case(closed_days_ago=30)
    assert se.case_decision(recent, CLOSED, NOW) == ("keep", "retention_period")
    assert se.case_decision(recent, CLOSED, NOW, erase_within_retention=True) == ("erase", None)
    assert se.case_decision(recent, None, NOW) == ("erase", None)  # no enforced rule: nothing to wait for


def test_erasing_an_employee_keeps_the_held_and_open_cases_records_why_and_keeps_the_name(make_runtime):
    runtime = make_runtime()
    with runtime.transaction() as s:
        unit = make_unit(s)
        emp, leader, hr = make_user(s, Role.employee, unit), make_user(s, Role.leader, unit), make_user(s, Role.hr)
        held, open_, old = (make_case(s, emp) for _ in range(3))
        for case in (held, old):
            close_case(s, case, leader, "Fjernet")
        hold_case(s, held, hr, "Retssag ved byretten")
        refs, emp_id, hr_id = (held.ref, open_.ref, old.ref), emp.id, hr.id
    later = utcnow() + timedelta(days=6 * 365)
    with runtime.transaction() as s:
        done = se.erase(runtime, s, s.get(User, emp_id), s.get(User, hr_id), "Anmodning pr. mail 1.12.2026",
                        RULES, load_exceptions(), later)
        plan = done.plan
    assert [(i.ref, i.action, i.exception) for i in plan.items if i.kind == "case"] == [
        (refs[0], "keep", "legal_hold"), (refs[1], "keep", "open_case"), (refs[2], "erase", None)]
    account = next(i for i in plan.items if i.kind == "account")
    assert (account.action, account.exception, account.refs) == ("close_account", "case_record", [refs[0], refs[1]])
    with runtime.Session() as s:
        user = s.get(User, emp_id)
        assert not user.active and not user.email.endswith(se.PSEUDONYM_DOMAIN)
        assert s.execute(select(Case.erased_at).where(Case.ref == refs[2])).scalar() is not None
        assert s.execute(select(Case.erased_at).where(Case.ref == refs[0])).scalar() is None
        ev = s.execute(select(AuditEvent).where(AuditEvent.action == "subject.erase")).scalar_one()
        assert ev.actor_id == hr_id and ev.object_id == str(emp_id)
        assert ev.details["erased"] == [f"case:{refs[2]}"]
        assert {k["item"]: k["exception"] for k in ev.details["kept"]} == {
            f"case:{refs[0]}": "legal_hold", f"case:{refs[1]}": "open_case", f"account:user {emp_id}": "case_record",
            "audit_events": "audit_trail", "journal": "journal"}


def test_an_employee_with_no_kept_case_is_pseudonymised_and_an_employee_may_not_erase(make_runtime):
    runtime = make_runtime()
    with runtime.transaction() as s:
        unit = make_unit(s)
        emp, other, hr = make_user(s, Role.employee, unit), make_user(s, Role.employee, unit), make_user(s, Role.hr)
        email, emp_id, other_id, hr_id = emp.email, emp.id, other.id, hr.id
    with runtime.transaction() as s:
        with pytest.raises(DomainError) as refused:
            se.plan_for_user(s, s.get(User, emp_id), RULES, load_exceptions(), NOW, actor=s.get(User, other_id))
        assert refused.value.code == "not_allowed"
        se.erase(runtime, s, s.get(User, emp_id), s.get(User, hr_id), "Anmodning", RULES, load_exceptions(), NOW)
    with runtime.Session() as s:
        user = s.get(User, emp_id)
        assert (user.name, user.email, user.active) == (f"Slettet bruger {emp_id}",
                                                          f"slettet-{emp_id}@slettet.invalid", False)
        create = s.execute(select(AuditEvent).where(AuditEvent.action == "user.create",
                                                    AuditEvent.object_id == str(emp_id))).scalar_one()
        assert email not in str(create.details)


def test_the_redactor_removes_other_peoples_data_and_keeps_the_persons_own():
    redact = Redactor(keep=["hans_troll", "@hans_troll", "https://x.com/hans_troll"],
                      names=[("Mette Hansen", "employee_name"), ("Mette", "employee_name"),
                             ("mette@kommune.dk", "employee_email"), ("anden_bruger", "other_offender")])
    text = ("@hans_troll skrev om Mette Hansen (mette@kommune.dk, tlf. 12 34 56 78, cpr 010203-1234) sammen med "
            "@anden_bruger og anden_bruger: se https://x.com/hans_troll og https://example.org/mette?id=1")
    out = redact(text)
    assert out == ("@hans_troll skrev om [medarbejder] ([e-mail], tlf. [telefon], cpr [CPR-nr.]) sammen med "
                   "[profil] og [anden person]: se https://x.com/hans_troll og [adresse]")
    assert {r["marker"]: r["count"] for r in redact.report()} == {
        "[medarbejder]": 1, "[e-mail]": 1, "[telefon]": 1, "[CPR-nr.]": 1, "[profil]": 1, "[anden person]": 1,
        "[adresse]": 1}


# -- the pages ---------------------------------------------------------------------------------------
def test_the_pages_are_hrs_the_administrator_erases_but_does_not_search_and_a_preview_changes_nothing(make_runtime):
    rt = make_runtime()
    with rt.transaction() as s:
        unit = make_unit(s)
        people = {role: make_user(s, role, unit if role in (Role.employee, Role.leader) else None,
                                  email=f"{role.value}@kommune.dk") for role in (Role.employee, Role.leader, Role.hr,
                                                                                  Role.admin)}
        case = make_case(s, people[Role.employee], description="Trussel fra @hans_troll mod employee")
        ref, emp_id = case.ref, people[Role.employee].id
    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    token = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
    for role in (Role.employee, Role.leader):
        client = csrf_login(app, f"{role.value}@kommune.dk")
        assert [client.get(u).status_code for u in ("/hr/privacy/erase", "/hr/privacy/access")] == [404, 404]
    admin = csrf_login(app, "admin@kommune.dk")
    assert admin.get("/hr/privacy/access?q=hans_troll").status_code == 404
    page = admin.get("/hr/privacy/erase")
    assert page.status_code == 200
    csrf = token.search(page.get_data(as_text=True)).group(1)
    preview = admin.post("/hr/privacy/erase", data={"csrf_token": csrf, "email": "employee@kommune.dk",
                                                   "reason": "Mail", "action": "preview"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and ref in html and "Sagen er åben" in html and 'value="erase"' in html
    with rt.Session() as s:
        assert s.get(User, emp_id).active
    # the box was ticked after the preview: the new preview is shown, nothing is erased
    changed = admin.post("/hr/privacy/erase", data={"csrf_token": csrf, "email": "employee@kommune.dk", "within": "y",
                                                   "reason": "Mail", "action": "erase",
                                                   "previewed": "employee@kommune.dk||0"})
    assert changed.status_code == 200 and 'id="erased-notice"' not in changed.get_data(as_text=True)
    with rt.Session() as s:
        assert s.get(User, emp_id).active
    erased = admin.post("/hr/privacy/erase", data={"csrf_token": csrf, "email": "employee@kommune.dk",
                                                  "reason": "Mail", "action": "erase",
                                                  "previewed": "employee@kommune.dk||0"})
    assert erased.status_code == 200 and 'id="erased-notice"' in erased.get_data(as_text=True)
    with rt.Session() as s:
        assert not s.get(User, emp_id).active
        assert s.execute(select(AuditEvent.actor_id).where(AuditEvent.action == "subject.erase")).scalar_one() == \
            s.execute(select(User.id).where(User.email == "admin@kommune.dk")).scalar_one()
    missing = admin.post("/hr/privacy/erase", data={"csrf_token": csrf, "reason": "Mail"})
    assert missing.status_code == 400
    hr = csrf_login(app, "hr@kommune.dk")
    found = hr.get("/hr/privacy/access?q=hans_troll")
    assert found.status_code == 200 and ref in found.get_data(as_text=True)
    with rt.Session() as s:
        assert s.execute(select(AuditEvent.case_id).where(AuditEvent.action == "case.subject_search")).scalar_one()
    assert hr.post("/hr/privacy/access/handout", data={"q": "hans_troll"}).status_code == 400  # no CSRF token
