"""The case page's forms through WTForms and the request's transaction, in the real app with CSRF on.

A form that cannot be read is said in Danish and writes nothing; an action that fails half-way (the
facts saved, then the category refused) leaves neither half; a good one is saved and audited once.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Case, CaseStep
from tests.support.factories import CSRF_TOKEN, csrf_login, make_case, make_settings, make_unit, make_user
from tracker.adapters.runtime import Runtime
from webui.app import create_app


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    rt = Runtime.from_settings(make_settings(tmp_path_factory.mktemp("case-forms")))
    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    with rt.transaction() as s:
        unit = make_unit(s, "Jobcenter")
        employee = make_user(s, "employee", unit, email="ansat@kommune.dk")
        make_user(s, "leader", unit, email="leder@kommune.dk")
        make_user(s, "amr", unit, email="amr@kommune.dk")
        ref = make_case(s, employee).ref
    client = csrf_login(app, "leder@kommune.dk")
    client.amr = csrf_login(app, "amr@kommune.dk")
    yield rt, client, ref
    rt.close()


def post(client, ref: str, path: str, data: dict) -> str:
    """Post a case-page form with the page's CSRF token; returns the case page it redirects to."""
    token = CSRF_TOKEN.search(client.get(f"/cases/{ref}").get_data(as_text=True)).group(1)
    resp = client.post(f"/cases/{ref}{path}", data={**data, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client.get(resp.headers["Location"]).get_data(as_text=True)


def actions(rt: Runtime, ref: str, *names: str) -> list[str]:
    with rt.Session() as s:
        case_id = s.execute(select(Case.id).where(Case.ref == ref)).scalar_one()
        return list(s.execute(select(AuditEvent.action).where(AuditEvent.case_id == case_id,
                                                              AuditEvent.action.in_(names))).scalars())


def test_facts_saved_and_then_a_refused_category_leave_neither_half(org):
    rt, client, ref = org
    page = post(client, ref, "/facts", {"author_known": "yes", "private_information_disclosed": "unknown",
                                        "defamatory": "unknown", "category": "something_else"})
    assert "Vælg en af kategorierne." in page
    assert actions(rt, ref, "case.facts", "case.category") == []
    with rt.Session() as s:
        case = s.execute(select(Case).where(Case.ref == ref)).scalar_one()
        assert case.author_known is None and case.category is None


def test_facts_and_category_are_saved_together_once(org):
    rt, client, ref = org
    post(client, ref, "/facts", {"author_known": "yes", "private_information_disclosed": "unknown",
                                 "defamatory": "no", "category": "digital_threat"})
    assert actions(rt, ref, "case.facts", "case.category") == ["case.facts", "case.category"]
    with rt.Session() as s:
        case = s.execute(select(Case).where(Case.ref == ref)).scalar_one()
        assert (case.author_known, case.defamatory, case.category) == (True, False, "digital_threat")


def test_a_fact_answer_outside_yes_no_unknown_is_refused_without_writing(org):
    rt, client, ref = org
    before = actions(rt, ref, "case.facts")
    page = post(client, ref, "/facts", {"author_known": "maybe"})
    assert "Ændringen kunne ikke gemmes. Tjek formularen." in page
    assert actions(rt, ref, "case.facts") == before


def test_a_time_that_cannot_be_read_is_said_in_danish_and_nothing_is_written(org):
    rt, client, ref = org
    before = actions(rt, ref, "step.state")  # the leader's opening of the case marked "inform the leader" done
    page = post(client, ref, "/steps/leader_conversation/state", {"state": "done", "done_at": "i går ved fem-tiden"})
    assert "Tidspunktet kunne ikke læses. Skriv dato og klokkeslæt, fx 26.11.2026 14.05." in page
    assert actions(rt, ref, "step.state") == before


def test_a_danish_time_is_read_and_the_step_saved(org):
    rt, client, ref = org
    before = actions(rt, ref, "step.state")
    post(client, ref, "/steps/leader_conversation/state", {"state": "done", "done_at": "01.12.2026 09.30"})
    assert len(actions(rt, ref, "step.state")) == len(before) + 1
    with rt.Session() as s:
        row = s.execute(select(CaseStep).join(Case).where(Case.ref == ref,
                                                          CaseStep.step_id == "leader_conversation")).scalar_one()
        assert row.state.value == "done" and row.done_at.isoformat().startswith("2026-12-01T08:30")


@pytest.mark.parametrize("value", ["", "abc", "1e3", "-1", str(2**64)])
def test_an_evidence_id_that_is_not_a_number_is_said_in_danish(org, value):
    rt, client, ref = org
    page = post(client, ref, "/steps/secure_evidence/attachments/evidence", {"evidence_id": value})
    assert "Vælg en bevissikring fra denne sag." in page
    assert actions(rt, ref, "step.attach") == []


def test_a_reader_who_may_not_change_the_case_gets_403_and_nothing_is_written(org):
    rt, client, ref = org
    amr = client.amr
    token = CSRF_TOKEN.search(amr.get(f"/cases/{ref}").get_data(as_text=True)).group(1)
    resp = amr.post(f"/cases/{ref}/close", data={"note": "Lukket", "csrf_token": token})
    assert resp.status_code == 403
    assert actions(rt, ref, "case.close") == []
    assert "Du kan ikke ændre denne sag" in resp.get_data(as_text=True)
