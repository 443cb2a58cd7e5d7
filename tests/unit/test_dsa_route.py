"""The DSA route to removal through the API and the case page (issue 17): a refused platform notice with its
receipt and decision dates leads to the art. 20 internal complaint with its 6-month clock and a drafted
Danish letter, the art. 21 dispute settlement names the certified body for the case's platform, and the
ladder advises Datatilsynet only where personal data is misused (defamation: private prosecution or the
police). The real app on SQLite; every JSON answer checked against its schema in the OpenAPI document."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select

from storage.models import AuditEvent, Case, CaseStep, User
from storage.types import utcnow
from tests.support.factories import csrf_login, make_case, make_settings, make_unit, make_user
from tracker.accounts.tokens import create_token
from tracker.adapters.runtime import Runtime
from tracker.workflow.deadlines import COPENHAGEN
from tracker.workflow.redress import load_redress
from tracker.workflow.rules import load_rules
from tracker.errors import DomainError
from tracker.workflow.steps import case_deadlines, record_rung
from webui.api.openapi import document
from webui.app import create_app

REGISTRY = Registry().with_resource("urn:vaern", Resource.from_contents(document(), DRAFT202012))
FACEBOOK_POST = "https://www.facebook.com/groups/borgere/posts/123"


def ok(resp, schema: str, status: int = 200) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    Draft202012Validator({"$ref": f"urn:vaern#/components/schemas/{schema}"}, registry=REGISTRY).validate(resp.get_json())
    return resp.get_json()


class World:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True)
        with rt.transaction() as s:
            unit = make_unit(s, "Jobcenter")
            self.employee = make_user(s, "employee", unit).id
            leader = make_user(s, "leader", unit, email="leder@kommune.dk", name="Lene Leder")
            self.leader, self.token = leader.id, create_token(s, leader, name="test")[1]
        self.client = self.app.test_client()

    def new_case(self, url: str = FACEBOOK_POST) -> str:
        with self.rt.transaction() as s:
            return make_case(s, s.get(User, self.employee), url=url).ref

    def api(self, method: str, path: str, **kw):
        return self.client.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {self.token}"},
                                **kw)

    def page(self, ref: str) -> str:
        resp = csrf_login(self.app, "leder@kommune.dk").get(f"/cases/{ref}")
        assert resp.status_code == 200
        return resp.get_data(as_text=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    rt = Runtime.from_settings(make_settings(tmp_path_factory.mktemp("dsa-route")))
    yield World(rt)
    rt.close()


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


def at(text: str | None) -> datetime | None:
    """An instant the API answered (in Copenhagen's offset)."""
    return None if text is None else datetime.fromisoformat(text)


def test_a_refused_notice_leads_to_the_art_20_complaint_with_its_deadline_and_letter(world):
    ref = world.new_case()
    sent = datetime(2026, 10, 1, 9, 0, tzinfo=COPENHAGEN)
    receipt, decided = sent + timedelta(hours=2), sent + timedelta(days=3)
    step = ok(world.api("POST", f"/cases/{ref}/steps/platform_notice", json={
        "sent_at": iso(sent), "channel": "Facebooks DSA-formular", "reference": "FB-778812",
        "receipt_at": iso(receipt), "outcome": "refused", "decided_at": iso(decided),
        "statement_of_reasons": "Indholdet overtræder ikke vores standarder."}), "Step")
    assert (step["outcome"], step["platform_ref"], step["state"]) == ("refused", "FB-778812", "done")
    assert (at(step["receipt_at"]), at(step["decided_at"])) == (receipt, decided)
    assert step["statement_of_reasons"] == "Indholdet overtræder ikke vores standarder."

    case_file = ok(world.api("GET", f"/cases/{ref}"), "CaseFile")
    clocks = {d["id"]: d for d in case_file["deadlines"]}
    complaint = clocks["dsa_internal_complaint"]
    assert at(complaint["start"]) == decided
    assert at(complaint["due_at"]) == datetime(2027, 4, 4, 9, 0, tzinfo=COPENHAGEN)  # 6 months after the decision
    assert "art. 20" in complaint["legal_source"] and complaint["verification"]["status"] in ("verified", "unverified")
    assert clocks["dsa_notice_receipt"]["state"] == "met" and at(clocks["dsa_notice_receipt"]["met_at"]) == receipt
    assert clocks["dsa_notice_decision"]["state"] == "met"
    steps = {s["id"]: s for s in case_file["steps"]}
    assert steps["internal_complaint"]["letter"] == "dsa_internal_complaint"

    listed = ok(world.api("GET", f"/cases/{ref}/letters"), "LetterList")
    assert {"template_id": "dsa_internal_complaint", "step_id": "internal_complaint"}.items() <= next(
        a for a in listed["available"] if a["template_id"] == "dsa_internal_complaint").items()
    letter = ok(world.api("POST", f"/cases/{ref}/letters", json={"template_id": "dsa_internal_complaint",
                                                                  "step_id": "internal_complaint"}), "Letter", 201)
    body = ok(world.api("GET", f"/cases/{ref}/letters/{letter['id']}"), "Letter")["body"]
    assert "artikel 20" in body and "FB-778812" in body and "afvist" in body
    assert "04.10.2026" in body  # the decision's date, Danish time
    assert "Indholdet overtræder ikke vores standarder." in body and FACEBOOK_POST in body
    assert letter["subject"].startswith("Klage over jeres afgørelse om anmeldelse FB-778812 (DSA artikel 20)")

    html = world.page(ref)
    assert "Modtagelse bekræftet" in html and "Afgørelse meddelt" in html
    assert 'id="deadline-dsa_internal_complaint"' in html
    # no Transparency Database lookup yet: the page says where to look by hand
    assert 'id="tdb-hint"' in html and "https://transparency.dsa.ec.europa.eu/statement" in html


def test_the_notice_life_is_audited_and_a_decision_date_needs_a_decision(world):
    with pytest.raises(DomainError) as e:  # the domain refuses a decision time without the decision
        with world.rt.transaction() as s:
            case = make_case(s, s.get(User, world.employee))
            record_rung(s, case, "platform_notice", s.get(User, world.leader), utcnow() - timedelta(days=1), None,
                        None, None, None, rules=load_rules(), decided_at=utcnow())
    assert e.value.code == "outcome_missing"
    ref = world.new_case()
    sent = utcnow() - timedelta(days=1)
    # without a decision, decided_at stays what it always was on the API: the step's done time only
    step = ok(world.api("POST", f"/cases/{ref}/steps/platform_notice", json={"sent_at": iso(sent),
                                                                             "decided_at": iso(sent)}), "Step")
    assert step["decided_at"] is None and step["state"] == "in_progress"
    resp = world.api("POST", f"/cases/{ref}/steps/platform_notice", json={
        "sent_at": iso(sent), "receipt_at": iso(sent - timedelta(days=2))})
    assert resp.status_code == 400 and resp.get_json()["code"] == "receipt_at_before_sent"
    ok(world.api("POST", f"/cases/{ref}/steps/platform_notice", json={"sent_at": iso(sent),
                                                                      "receipt_at": iso(sent + timedelta(hours=1))}),
       "Step")
    with world.rt.Session() as s:
        case = s.execute(select(Case).where(Case.ref == ref)).scalar_one()
        *_, event = s.execute(select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.action == "step.rung")
                              .order_by(AuditEvent.id)).scalars()
    assert at(event.details["receipt_at"]) == sent + timedelta(hours=1) and event.actor_id == world.leader


def test_missing_receipt_and_decision_turn_their_reminder_clocks_overdue_after_the_configured_days(world):
    ref = world.new_case()
    sent = utcnow() - timedelta(days=8)
    ok(world.api("POST", f"/cases/{ref}/steps/platform_notice", json={"sent_at": iso(sent)}), "Step")
    clocks = {d["id"]: d for d in ok(world.api("GET", f"/cases/{ref}"), "CaseFile")["deadlines"]}
    assert clocks["dsa_notice_receipt"]["state"] == "overdue"  # 3 days (deadlines.toml)
    assert clocks["dsa_notice_decision"]["state"] == "overdue"  # 7 days
    assert clocks["dsa_internal_complaint"]["state"] == "unknown_start"  # no decision told yet
    # silence recorded: the decision clock is closed, and the ladder offers the complaint next
    ok(world.api("POST", f"/cases/{ref}/steps/platform_notice", json={"outcome": "no_answer"}), "Step")
    clocks = {d["id"]: d for d in ok(world.api("GET", f"/cases/{ref}"), "CaseFile")["deadlines"]}
    assert clocks["dsa_notice_decision"]["state"] == "closed"


def test_a_removed_notice_makes_the_complaint_clock_moot():
    rules = load_rules()
    sent = datetime(2026, 10, 1, 9, tzinfo=COPENHAGEN)
    row = CaseStep(step_id="platform_notice", sent_at=sent, decided_at=sent + timedelta(days=1), outcome="removed")
    case = Case(episode_at=None, created_at=sent)
    views = {v.rule.id: v for v in case_deadlines(case, rules, {"platform_notice": row}, {}, sent + timedelta(days=2))}
    assert views["dsa_internal_complaint"].state == "closed" and views["dsa_notice_decision"].state == "met"


def test_art_21_dispute_settlement_names_the_certified_body_for_the_platform(world):
    ref = world.new_case()
    sent = datetime(2026, 11, 2, 10, tzinfo=COPENHAGEN)
    ok(world.api("POST", f"/cases/{ref}/steps/platform_notice", json={
        "sent_at": iso(sent), "reference": "FB-1", "outcome": "refused", "decided_at": iso(sent + timedelta(days=2))}),
       "Step")
    filed = sent + timedelta(days=10)
    ok(world.api("POST", f"/cases/{ref}/steps/dispute_settlement", json={"sent_at": iso(filed)}), "Step")
    clocks = {d["id"]: d for d in ok(world.api("GET", f"/cases/{ref}"), "CaseFile")["deadlines"]}
    assert at(clocks["dsa_dispute_decision"]["due_at"]) == filed + timedelta(days=90)
    assert "art. 21" in clocks["dsa_dispute_decision"]["legal_source"]

    letter = ok(world.api("POST", f"/cases/{ref}/letters", json={"template_id": "dsa_dispute_settlement",
                                                                  "step_id": "dispute_settlement"}), "Letter", 201)
    body = ok(world.api("GET", f"/cases/{ref}/letters/{letter['id']}"), "Letter")["body"]
    assert body.startswith("Til: Appeals Centre Europe") and "artikel 21" in body and "90 dage" in body

    html = world.page(ref)
    assert 'id="dispute-bodies"' in html and "Appeals Centre Europe" in html and "User Rights" not in html
    linkedin = world.new_case("https://www.linkedin.com/posts/someone_123")
    assert "User Rights" in world.page(linkedin) and "Appeals Centre Europe" not in world.page(linkedin)


@pytest.mark.parametrize(("facts", "shown", "hidden"), [
    ({"private_information_disclosed": True, "defamatory": False},
     ["advice-datatilsynet_personal_data", "doxxing"], ["advice-defamation_private_prosecution"]),
    ({"private_information_disclosed": True, "defamatory": True},
     ["advice-datatilsynet_not_defamation", "advice-defamation_private_prosecution", "§ 96", "advice-defamation_police"],
     ["advice-datatilsynet_personal_data"]),
    ({"private_information_disclosed": False, "defamatory": False},
     ["advice-datatilsynet_no_personal_data"], ["advice-datatilsynet_personal_data", "advice-defamation_police"]),
])
def test_the_ladder_advises_datatilsynet_only_where_personal_data_is_misused(world, facts, shown, hidden):
    ref = world.new_case()
    ok(world.api("POST", f"/cases/{ref}/facts", json=facts), "CaseState")
    html = world.page(ref)
    for text in shown:
        assert text in html, text
    for text in hidden:
        assert text not in html, text


def test_the_redress_file_names_only_known_rungs_and_platforms_and_marks_every_advice():
    rules = load_rules()
    data = load_redress(ladder=tuple(s.id for s in rules.ladder),
                        platforms=("facebook", "instagram", "tiktok", "youtube", "linkedin"))
    assert [b.name for b in data.bodies_for("facebook")] == ["Appeals Centre Europe"]
    assert {b.name for b in data.bodies_for("tiktok")} == {"Appeals Centre Europe", "User Rights"}
    assert data.bodies_for("generic") == [] and data.trusted_flaggers == ()
    assert all(a.verification.checked_against for a in data.advice)
