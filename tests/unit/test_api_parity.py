"""What a leader does on the pages, done through the JSON API (issue 12 point 5), with the real app and
database: closing and reopening, facts and category, list filters, steps and rungs, attachments, letters,
re-check decisions, exports and offenders. Each route for allowed and refused roles (a case you may not
see is a 404), its validation errors with stable codes, the audit events it writes, and every JSON
answer checked against its schema in the OpenAPI document."""
from __future__ import annotations

import io

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select

from storage.models import AuditEvent, Case, CaseStep, Recheck, User
from storage.types import utcnow
from tests.support.factories import make_case, make_done_evidence, make_settings, make_unit, make_user, png_bytes
from tracker.accounts.tokens import create_token
from tracker.adapters.runtime import Runtime
from tracker.wording import CPH
from webui.api.openapi import document
from webui.app import create_app

#: (key, role, unit); every case here is employee-A's, in unit A
PEOPLE = [("employee-A", "employee", "A"), ("amr-A", "amr", "A"), ("leader-A", "leader", "A"),
          ("leader-B", "leader", "B"), ("employee-B", "employee", "B"), ("hr", "hr", "B"), ("admin", "admin", "A")]
REGISTRY = Registry().with_resource("urn:vaern", Resource.from_contents(document(), DRAFT202012))


def conforms(resp, status: int, schema: str) -> dict:
    """The answer has the status and matches its schema in the OpenAPI document."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    Draft202012Validator({"$ref": f"urn:vaern#/components/schemas/{schema}"}, registry=REGISTRY).validate(body)
    return body


def refused(resp, status: int, code: str, field: str | None = None) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert (body["code"], body["field"]) == (code, field)
    conforms(resp, status, "Error")


class Org:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True)
        self.ids: dict[str, int] = {}
        self.tokens: dict[str, str] = {}
        with rt.transaction() as s:
            units = {"A": make_unit(s, "Jobcenter"), "B": make_unit(s, "Borgerservice")}
            for key, role, unit in PEOPLE:
                u = make_user(s, role, units[unit], email=f"{key.lower()}@kommune.dk", name=f"Person {key}")
                self.ids[key] = u.id
                self.tokens[key] = create_token(s, u, name="test")[1]
        self.client = self.app.test_client()

    def new_case(self, evidence: bool = False) -> tuple[str, int]:
        with self.rt.transaction() as s:
            case = make_case(s, s.get(User, self.ids["employee-A"]))
            ref, case_id = case.ref, case.id
        if evidence:
            self.evidence_id = make_done_evidence(self.rt, case_id, self.ids["employee-A"])
        return ref, case_id

    def call(self, method: str, path: str, key: str = "leader-A", **kw):
        headers = {"Authorization": f"Bearer {self.tokens[key]}"}
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kw)

    def get(self, path: str, key: str = "leader-A", **kw):
        return self.call("GET", path, key, **kw)

    def post(self, path: str, key: str = "leader-A", **kw):
        return self.call("POST", path, key, **kw)

    def events(self, case_id: int, action: str) -> list[AuditEvent]:
        with self.rt.Session() as s:
            return list(s.execute(select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.action == action)
                                  .order_by(AuditEvent.id)).scalars())

    def case(self, case_id: int) -> Case:
        with self.rt.Session() as s:
            return s.get(Case, case_id)


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    rt = Runtime.from_settings(make_settings(tmp_path_factory.mktemp("api-parity")))
    yield Org(rt)
    rt.close()


# -- cases ----------------------------------------------------------------------------------------
def test_the_leader_closes_and_reopens_a_case_and_both_are_audited(org):
    ref, case_id = org.new_case()
    refused(org.post(f"/cases/{ref}/close", "employee-A", json={"note": "Fjernet"}), 403, "not_allowed")
    refused(org.post(f"/cases/{ref}/close", "amr-A", json={"note": "Fjernet"}), 403, "not_allowed")
    refused(org.post(f"/cases/{ref}/close", "leader-B", json={"note": "Fjernet"}), 404, "not_found")
    refused(org.post(f"/cases/{ref}/close", json={"note": "  "}), 400, "close_note_empty", "note")
    refused(org.post(f"/cases/{ref}/close", json={"note": 7}), 400, "wrong_type", "note")
    assert org.case(case_id).status == "open" and org.events(case_id, "case.close") == []

    body = conforms(org.post(f"/cases/{ref}/close", json={"note": "Opslaget er fjernet og fulgt op"}), 200,
                    "CaseState")
    assert body["status"] == "closed" and body["closed_at"] is not None and body["ref"] == ref
    [event] = org.events(case_id, "case.close")
    assert event.actor_id == org.ids["leader-A"] and event.details["note"] == "Opslaget er fjernet og fulgt op"
    refused(org.post(f"/cases/{ref}/close", json={"note": "igen"}), 409, "already_closed")

    refused(org.post(f"/cases/{ref}/reopen", "hr", json={}), 400, "reopen_note_empty", "note")
    body = conforms(org.post(f"/cases/{ref}/reopen", "hr", json={"note": "Det er startet igen"}), 200, "CaseState")
    assert body["status"] == "open" and body["closed_at"] is None
    assert [e.actor_id for e in org.events(case_id, "case.reopen")] == [org.ids["hr"]]
    refused(org.post(f"/cases/{ref}/reopen", json={"note": "igen"}), 409, "not_closed")


def test_facts_and_category_are_set_as_on_the_case_page(org):
    ref, case_id = org.new_case()
    body = conforms(org.post(f"/cases/{ref}/facts", json={"author_known": True, "defamatory": None}), 200, "CaseState")
    assert body["facts"] == {"author_known": True, "defamatory": None, "private_information_disclosed": None}
    [event] = org.events(case_id, "case.facts")
    assert event.details["changed"] == {"author_known": True}
    refused(org.post(f"/cases/{ref}/facts", json={"author_known": "ja"}), 400, "wrong_type", "author_known")
    refused(org.post(f"/cases/{ref}/facts", "amr-A", json={"defamatory": True}), 403, "not_allowed")
    refused(org.post(f"/cases/{ref}/facts", "employee-B", json={"defamatory": True}), 404, "not_found")

    refused(org.post(f"/cases/{ref}/category", json={"category": "spam"}), 400, "bad_category", "category")
    body = conforms(org.post(f"/cases/{ref}/category", json={"category": "digital_threat"}), 200, "CaseState")
    assert body["category"] == "digital_threat" and org.case(case_id).category == "digital_threat"
    assert [e.details["after"] for e in org.events(case_id, "case.category")] == ["digital_threat"]
    refused(org.post(f"/cases/{ref}/category", "employee-A", json={"category": None}), 403, "not_allowed")
    case_file = conforms(org.get(f"/cases/{ref}"), 200, "CaseFile")
    assert case_file["category"] == "digital_threat" and case_file["facts"]["author_known"] is True


def test_a_clock_start_is_recorded_with_an_offset_time(org):
    ref, case_id = org.new_case()
    refused(org.post(f"/cases/{ref}/clocks", json={"name": "absence_start", "at": "2026-11-20 08:00"}), 400,
            "at_naive", "at")
    refused(org.post(f"/cases/{ref}/clocks", json={"name": "bedtime", "at": "2026-11-20T08:00:00+01:00"}), 400,
            "unknown_clock", "name")
    conforms(org.post(f"/cases/{ref}/clocks", json={"name": "absence_start", "at": "2026-11-20T08:00:00+01:00",
                                                     "note": "Sygemeldt"}), 200, "CaseState")
    [event] = org.events(case_id, "clock.set")
    assert event.details["at"] == "2026-11-20T08:00:00+01:00" and event.details["note"] == "Sygemeldt"


def test_the_case_list_filters_by_status_category_and_day(org):
    ref, case_id = org.new_case()
    org.post(f"/cases/{ref}/category", json={"category": "digital_bullying"})
    listed = conforms(org.get("/cases?category=digital_bullying"), 200, "CaseList")["cases"]
    assert [c["ref"] for c in listed] == [ref]
    org.post(f"/cases/{ref}/close", json={"note": "Afsluttet"})
    assert ref in [c["ref"] for c in org.get("/cases?status=closed").get_json()["cases"]]
    assert ref not in [c["ref"] for c in org.get("/cases?status=open").get_json()["cases"]]
    today = utcnow().astimezone(CPH).date().isoformat()  # the API's days are Copenhagen days (0-2 h after UTC's)
    assert ref in [c["ref"] for c in org.get(f"/cases?created_from={today}&created_to={today}").get_json()["cases"]]
    assert org.get("/cases?created_from=2999-01-01").get_json()["cases"] == []
    assert org.get("/cases?category=digital_bullying", "leader-B").get_json()["cases"] == []
    refused(org.get("/cases?status=shut"), 400, "bad_parameter", "status")
    refused(org.get("/cases?created_from=i+går"), 400, "bad_parameter", "created_from")
    refused(org.get("/cases?owner=me"), 400, "unknown_parameter", "owner")


def test_reading_the_list_is_audited_with_its_filters(org):
    org.get("/cases?status=open", "hr")
    with org.rt.Session() as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "case.list", AuditEvent.actor_id == org.ids["hr"])
                          .order_by(AuditEvent.id.desc())).scalars().first()
    assert event.details["filters"] == {"status": "open"} and event.details["via"] == "api"


# -- steps ----------------------------------------------------------------------------------------
def test_a_step_gets_its_state_note_and_back_dated_decision_time(org):
    ref, case_id = org.new_case()
    url = f"/cases/{ref}/steps/leader_conversation"
    body = conforms(org.post(url, json={"state": "done", "decided_at": "2026-11-21T10:00:00+01:00",
                                        "note": "Talt med medarbejderen"}), 200, "Step")
    assert body["state"] == "done" and body["note"] == "Talt med medarbejderen"
    assert body["done_at"] == "2026-11-21T10:00:00+01:00"
    [event] = org.events(case_id, "step.state")
    assert event.details["state"] == "done" and event.actor_id == org.ids["leader-A"]
    refused(org.post(url, json={"state": "skipped"}), 400, "reason_missing", "reason")
    refused(org.post(url, json={"state": "finished"}), 400, "bad_state", "state")
    refused(org.post(url, json={"decided_at": "2999-01-01T00:00:00Z"}), 400, "done_at_future", "done_at")
    refused(org.post(url, json={}), 400, "nothing_to_change")
    refused(org.post(url, "employee-A", json={"state": "todo"}), 403, "not_allowed")
    refused(org.post(url, "amr-A", json={"state": "todo"}), 403, "not_allowed")
    refused(org.post(url, "leader-B", json={"state": "todo"}), 404, "not_found")
    refused(org.post(f"/cases/{ref}/steps/no_such_step", json={"state": "todo"}), 404, "not_found")
    # the unit's AMR changes the steps whose actor is the AMR
    assert conforms(org.post(f"/cases/{ref}/steps/apv_action_plan", "amr-A", json={"state": "in_progress"}), 200,
                    "Step")["state"] == "in_progress"
    assert len(org.events(case_id, "step.state")) == 2


def test_a_rung_records_sent_reference_and_outcome_and_keeps_what_is_not_sent(org):
    ref, case_id = org.new_case()
    url = f"/cases/{ref}/steps/request_to_author"
    refused(org.post(url, json={"outcome": "removed"}), 400, "sent_at_missing", "sent_at")
    refused(org.post(url, json={"sent_at": "26.11.2026 14.05"}), 400, "sent_malformed", "sent_at")
    body = conforms(org.post(url, json={"sent_at": "2026-11-22T09:00:00+01:00", "reference": "SAG-1",
                                        "channel": "e-mail"}), 200, "Step")
    assert (body["state"], body["platform_ref"], body["channel"]) == ("in_progress", "SAG-1", "e-mail")
    body = conforms(org.post(url, json={"outcome": "removed", "decided_at": "2026-11-24T12:00:00+01:00"}), 200, "Step")
    assert (body["state"], body["outcome"], body["platform_ref"]) == ("done", "removed", "SAG-1")
    assert body["sent_at"] == "2026-11-22T09:00:00+01:00" and body["done_at"] == "2026-11-24T12:00:00+01:00"
    assert [e.details.get("outcome") for e in org.events(case_id, "step.rung")] == [None, "removed"]
    refused(org.post(f"/cases/{ref}/steps/leader_conversation", json={"sent_at": "2026-11-22T09:00:00+01:00"}),
            400, "not_a_rung", "step")


def test_declining_the_police_report_is_the_pages_decline(org):
    ref, case_id = org.new_case()
    url = f"/cases/{ref}/steps/police_report"
    refused(org.post(url, json={"outcome": "declined"}), 400, "note_missing", "note")
    body = conforms(org.post(url, json={"outcome": "declined", "note": "Medarbejderen ønsker ikke anmeldelse"}), 200,
                    "Step")
    assert (body["state"], body["outcome"]) == ("skipped", "declined")
    assert len(org.events(case_id, "step.police_report_declined")) == 1


def test_attachments_evidence_and_uploads_are_attached_and_downloaded_with_audit(org):
    ref, case_id = org.new_case(evidence=True)
    url = f"/cases/{ref}/steps/leader_conversation/attachments"
    body = conforms(org.post(url, json={"evidence_id": org.evidence_id}), 201, "Attachment")
    assert body["evidence_id"] == org.evidence_id and body["url"] is None
    first = body["id"]
    assert org.post(url, json={"evidence_id": org.evidence_id}).get_json()["id"] == first  # once only
    refused(org.post(url, json={"evidence_id": 999999}), 400, "unknown_evidence", "evidence_id")
    refused(org.post(url, json={"evidence_id": "1"}), 400, "wrong_type", "evidence_id")
    refused(org.post(url, "employee-A", json={"evidence_id": org.evidence_id}), 403, "not_allowed")

    picture = png_bytes()
    resp = org.post(url + "/upload", data={"file": (io.BytesIO(picture), "svar fra facebook.png")})
    body = conforms(resp, 201, "Attachment")
    assert body["media_type"] == "image/png" and body["filename"] == "svar fra facebook.png"
    assert resp.headers["Location"] == body["url"]
    refused(org.post(url + "/upload", data={"file": (io.BytesIO(b"hello"), "svar.txt")}), 400, "unsupported_type",
            "file")
    refused(org.post(url + "/upload", data={"note": "x"}, content_type="multipart/form-data"), 400, "file_missing",
            "file")
    refused(org.post(url + "/upload", json={"file": "x"}), 415, "unsupported_media_type")
    refused(org.post(url + "/upload", "amr-A", data={"file": (io.BytesIO(picture), "a.png")}), 403, "not_allowed")

    download = org.client.get(body["url"], headers={"Authorization": f"Bearer {org.tokens['employee-A']}"})
    assert download.status_code == 200 and download.data == picture
    assert download.headers["X-Evidence-SHA256"] == body["sha256"]
    assert download.headers["Content-Disposition"].startswith("attachment;")
    refused(org.client.get(body["url"], headers={"Authorization": f"Bearer {org.tokens['leader-B']}"}), 404,
            "not_found")
    [event] = org.events(case_id, "attachment.download")
    assert event.actor_id == org.ids["employee-A"] and event.details["via"] == "api"
    assert len(org.events(case_id, "step.attach")) == 2
    steps = {s["id"]: s for s in conforms(org.get(f"/cases/{ref}"), 200, "CaseFile")["steps"]}
    assert [a["id"] for a in steps["leader_conversation"]["attachments"]] == [first, body["id"]]


# -- letters --------------------------------------------------------------------------------------
def test_a_letter_is_drafted_edited_and_marked_sent_with_the_pages_rules(org):
    ref, case_id = org.new_case()
    assert conforms(org.get(f"/cases/{ref}/letters"), 200, "LetterList")["letters"] == []
    refused(org.post(f"/cases/{ref}/letters", json={"template_id": "love_letter"}), 400, "unknown_letter",
            "template_id")
    refused(org.post(f"/cases/{ref}/letters", "amr-A", json={"template_id": "request_to_author"}), 403, "not_allowed")
    refused(org.post(f"/cases/{ref}/letters", "leader-B", json={"template_id": "request_to_author"}), 404, "not_found")
    resp = org.post(f"/cases/{ref}/letters", json={"template_id": "request_to_author", "step_id": "request_to_author"})
    letter = conforms(resp, 201, "Letter")
    assert resp.headers["Location"] == letter["url"] and "[UDFYLD" in letter["body"]
    path = f"/cases/{ref}/letters/{letter['id']}"
    refused(org.post(path + "/send"), 409, "letter_unfinished", "body")
    refused(org.get(path, "employee-A"), 404, "not_found")  # the employee reads sent letters only
    assert org.get(f"/cases/{ref}/letters", "employee-A").get_json() == {"letters": []}

    text = "Kære borger\n\nFjern venligst opslaget.\n"
    edited = conforms(org.post(path, json={"body": text, "version": letter["sha256"]}), 200, "Letter")
    assert edited["body"] == text and edited["subject"] == letter["subject"] and edited["sha256"] != letter["sha256"]
    refused(org.post(path, json={"body": "Andet\n", "version": letter["sha256"]}), 409, "letter_changed")
    refused(org.post(path, "amr-A", json={"body": "Andet\n"}), 403, "not_allowed")
    sent = conforms(org.post(path + "/send"), 200, "Letter")
    assert sent["sent_at"] is not None and sent["sha256_at_send"] == edited["sha256"]
    refused(org.post(path, json={"body": "Efter\n"}), 409, "letter_sent")
    assert conforms(org.get(path, "employee-A"), 200, "Letter")["body"] == text
    actions = [e.action for e in org.events(case_id, "letter.create") + org.events(case_id, "letter.update")
               + org.events(case_id, "letter.sent") + org.events(case_id, "letter.view")]
    assert actions == ["letter.create", "letter.update", "letter.sent", "letter.view"]


# -- re-checks ------------------------------------------------------------------------------------
def test_only_the_leader_decides_an_uncertain_recheck_and_only_once(org):
    ref, case_id = org.new_case(evidence=True)
    with org.rt.transaction() as s:
        row = Recheck(case_id=case_id, baseline_evidence_id=org.evidence_id, evidence_id=org.evidence_id,
                      verdict="uncertain", reason_code="no_sign", details={}, decided_at=utcnow())
        s.add(row)
        s.flush()
        recheck_id = row.id
    [listed] = conforms(org.get(f"/cases/{ref}/rechecks", "employee-A"), 200, "RecheckList")["rechecks"]
    assert listed["verdict"] == "uncertain"
    url = f"/cases/{ref}/rechecks/{recheck_id}/decision"
    refused(org.post(url, "hr", json={"decision": "still_online"}), 403, "not_allowed")
    refused(org.post(url, "employee-A", json={"decision": "still_online"}), 403, "not_allowed")
    refused(org.post(url, "leader-B", json={"decision": "still_online"}), 404, "not_found")
    refused(org.post(url, json={"decision": "maybe"}), 400, "bad_decision", "decision")
    refused(org.post(f"/cases/{ref}/rechecks/999999/decision", json={"decision": "removed"}), 404, "not_found")
    body = conforms(org.post(url, json={"decision": "still_online"}), 200, "Recheck")
    assert body["verdict"] == "still_online" and body["decided_by"]["id"] == org.ids["leader-A"]
    refused(org.post(url, json={"decision": "removed"}), 409, "not_uncertain")
    assert len(org.events(case_id, "recheck.leader_decided")) == 1


# -- exports and offenders ------------------------------------------------------------------------
def test_the_export_list_shows_only_your_own_jobs(org):
    ref, case_id = org.new_case()
    job = conforms(org.post(f"/cases/{ref}/exports", json={"kind": "case_report"}), 202, "Export")
    assert [j["id"] for j in conforms(org.get(f"/cases/{ref}/exports"), 200, "ExportList")["exports"]] == [job["id"]]
    assert org.get(f"/cases/{ref}/exports", "hr").get_json() == {"exports": []}
    assert [e.details["part"] for e in org.events(case_id, "case.view")] == ["exports", "exports"]
    refused(org.get(f"/cases/{ref}/exports", "leader-B"), 404, "not_found")
    conforms(org.get(job["url"].removeprefix("/api/v1")), 200, "Export")


def test_offenders_are_added_confirmed_and_dismissed_by_the_leader(org):
    ref, case_id = org.new_case()
    refused(org.post(f"/cases/{ref}/offenders", "employee-A", json={"platform": "facebook", "handle": "@vred"}), 403,
            "not_allowed")
    refused(org.post(f"/cases/{ref}/offenders", json={"platform": "myspace", "handle": "@vred"}), 400,
            "bad_platform", "platform")
    link = conforms(org.post(f"/cases/{ref}/offenders", json={"platform": "facebook", "handle": "@Vred.Borger"}), 201,
                    "OffenderLink")
    assert link["state"] == "confirmed" and link["offender"]["handle"] == "vred.borger"
    [listed] = conforms(org.get(f"/cases/{ref}/offenders", "employee-A"), 200, "OffenderList")["offenders"]
    assert listed["link_id"] == link["link_id"] and listed["other_cases"] == 0
    url = f"/cases/{ref}/offenders/{link['link_id']}/decision"
    refused(org.post(url, json={"state": "maybe"}), 400, "bad_state", "state")
    refused(org.post(url, "amr-A", json={"state": "dismissed"}), 403, "not_allowed")
    refused(org.post(url, "leader-B", json={"state": "dismissed"}), 404, "not_found")
    refused(org.post(f"/cases/{ref}/offenders/999999/decision", json={"state": "dismissed"}), 404, "not_found")
    assert conforms(org.post(url, "hr", json={"state": "dismissed"}), 200, "OffenderLink")["state"] == "dismissed"
    [event] = org.events(case_id, "offender.dismissed")
    assert event.actor_id == org.ids["hr"] and event.details["link_id"] == link["link_id"]
    with org.rt.Session() as s:
        assert s.execute(select(CaseStep).where(CaseStep.case_id == case_id)).first() is None  # nothing else changed


# -- the request's transaction ----------------------------------------------------------------------
def test_a_refused_part_of_a_step_change_undoes_the_part_before_it(org):
    """The rung's fields are recorded first, then the state is refused: nothing of the request stays."""
    ref, case_id = org.new_case()
    resp = org.post(f"/cases/{ref}/steps/request_to_author",
                    json={"sent_at": "2026-11-22T09:00:00+01:00", "reference": "SAG-9", "state": "bogus"})
    refused(resp, 400, "bad_state", "state")
    assert org.events(case_id, "step.rung") == []
    with org.rt.Session() as s:
        assert s.execute(select(CaseStep).where(CaseStep.case_id == case_id)).first() is None


def test_a_file_that_failed_its_check_is_a_500_whose_audit_event_is_kept(org):
    ref, case_id = org.new_case(evidence=True)
    case_file = org.get(f"/cases/{ref}").get_json()
    [done] = [ev for ev in case_file["evidence"] if ev["id"] == org.evidence_id]
    art = done["artifacts"][0]
    path = org.rt.blobs.path_for(art["sha256"])
    original = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(original + b" edited")
    try:
        refused(org.client.get(art["url"], headers={"Authorization": f"Bearer {org.tokens['leader-A']}"}), 500,
                "integrity_error")
    finally:
        path.write_bytes(original)
    [event] = org.events(case_id, "artifact.integrity_error")
    assert event.actor_id == org.ids["leader-A"] and event.details["name"] == art["name"]
    assert org.events(case_id, "artifact.download") == []


def test_the_answers_of_the_older_routes_match_their_schemas_too(org):
    resp = org.post("/cases", "employee-A", json={"url": "https://example.org/opslag/9", "description": "Trusler"})
    created = conforms(resp, 201, "CaseCreated")
    conforms(org.get("/cases", "employee-A"), 200, "CaseList")
    case_file = conforms(org.get(created["url"].removeprefix("/api/v1"), "employee-A"), 200, "CaseFile")
    assert case_file["ref"] == created["ref"] and case_file["category"] is None
    ref, _case_id = org.new_case(evidence=True)
    started = conforms(org.post(f"/cases/{ref}/rechecks", "employee-A"), 202, "RecheckStarted")
    assert started["rechecks"][0]["state"] == "pending"
