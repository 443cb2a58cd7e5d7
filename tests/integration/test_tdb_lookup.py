"""The DSA Transparency Database lookup on the platform-notice rung, through the Flask app with CSRF on,
against a local fake database on 127.0.0.1 that answers the documented API shape
(``GET /api/v1/statement/existing-puid/<PUID>``, bearer token; 302 + the statement, or 404 + a message):
no token (the feature is off and the page says how to search by hand), a match (attached and audited),
no match, a server error and a timeout (said plainly, nothing attached)."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Case, CaseStep, StepAttachment, User
from storage.types import utcnow
from tests.support.database import new_runtime
from tests.support.factories import csrf_login, make_case, make_settings, make_unit, make_user
from tests.support.tdb import API_TOKEN, STATEMENT, FakeTdb, running_tdb
from tracker.workflow import steps
from tracker.workflow.rules import load_rules
from webui.app import create_app

RULES = load_rules()
TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
@pytest.fixture(scope="module")
def tdb_server():
    with running_tdb() as url:
        yield url


class Org:
    """Unit A's employee and leader, unit B's leader; a case whose platform notice was refused."""

    def __init__(self, rt):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True)
        with rt.transaction() as s:
            a, b = make_unit(s, "Jobcenter"), make_unit(s, "Borgerservice")
            self.people = {key: make_user(s, role, unit, email=f"{key}@kommune.dk").email
                           for key, role, unit in [("employee", "employee", a), ("leader", "leader", a),
                                                   ("leader-b", "leader", b)]}

    def refused_case(self) -> tuple[str, int]:
        with self.rt.transaction() as s:
            employee = s.execute(select(User).where(User.email == self.people["employee"])).scalar_one()
            leader = s.execute(select(User).where(User.email == self.people["leader"])).scalar_one()
            case = make_case(s, employee)
            sent = utcnow() - timedelta(days=3)
            steps.record_rung(s, case, "platform_notice", leader, sent, "Facebooks DSA-formular", "FB-1", "refused",
                              None, rules=RULES, decided_at=sent + timedelta(days=1))
            return case.ref, case.id

    def client(self, key: str):
        return csrf_login(self.app, self.people[key])


def make_org(tmp_path_factory, name: str, **settings) -> Org:
    return Org(new_runtime(make_settings(tmp_path_factory.mktemp(name), **settings)))


@pytest.fixture(scope="module")
def org_on(tmp_path_factory, tdb_server):
    org = make_org(tmp_path_factory, "tdb-on", dsa_tdb_url=tdb_server, dsa_tdb_token=API_TOKEN, dsa_tdb_timeout=1)
    yield org
    org.rt.close()


@pytest.fixture(scope="module")
def org_off(tmp_path_factory, tdb_server):
    org = make_org(tmp_path_factory, "tdb-off", dsa_tdb_url=tdb_server)
    yield org
    org.rt.close()


def lookup(org: Org, key: str, ref: str, puid: str):
    client = org.client(key)
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    resp = client.post(f"/cases/{ref}/steps/platform_notice/tdb-lookup",
                       data={"puid": puid, "csrf_token": TOKEN.search(page).group(1)})
    return client, resp


def events(org: Org, case_id: int) -> list[AuditEvent]:
    with org.rt.Session() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.case_id == case_id,
                                                       AuditEvent.action == "step.tdb_lookup")
                              .order_by(AuditEvent.id)).scalars())


def attachments(org: Org, case_id: int) -> list[StepAttachment]:
    with org.rt.Session() as s:
        row = s.execute(select(CaseStep).where(CaseStep.case_id == case_id,
                                               CaseStep.step_id == "platform_notice")).scalar_one()
        return list(s.execute(select(StepAttachment).where(StepAttachment.case_step_id == row.id)).scalars())


def test_without_a_token_the_page_says_how_to_search_by_hand_and_nothing_is_asked(org_off):
    ref, case_id = org_off.refused_case()
    before = len(FakeTdb.seen)
    client = org_off.client("leader")
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    assert 'id="tdb-hint"' in page and "transparency.dsa.ec.europa.eu/statement" in page
    assert 'id="tdb-lookup"' not in page
    client, resp = lookup(org_off, "leader", ref, "post-777")
    assert resp.status_code == 302
    follow = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "ikke sat op her" in follow
    assert len(FakeTdb.seen) == before and events(org_off, case_id) == [] and attachments(org_off, case_id) == []


def test_a_match_is_attached_to_the_step_and_audited(org_on, tdb_server):
    ref, case_id = org_on.refused_case()
    client = org_on.client("leader")
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    assert 'id="tdb-lookup"' in page and 'for="tdb-puid"' in page
    client, resp = lookup(org_on, "leader", ref, "post-777")
    assert resp.status_code == 302
    assert FakeTdb.seen[-1] == ("/api/v1/statement/existing-puid/post-777", f"Bearer {API_TOKEN}")
    shown = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "har en begrundelse for dette indhold (4b449e79-a41f-4934-aa9a-9c442899951e)" in shown
    [att] = attachments(org_on, case_id)
    assert att.media_type == "application/json" and att.filename == f"dsa-tdb-{STATEMENT['uuid']}.json"
    download = client.get(f"/cases/{ref}/attachments/{att.id}")
    assert download.status_code == 200 and json.loads(download.data) == STATEMENT
    [event] = events(org_on, case_id)
    assert event.details["result"] == "match" and event.details["puid"] == "post-777"
    assert event.details["url"] == tdb_server and event.details["uuid"] == STATEMENT["uuid"]
    assert event.details["attachment_id"] == att.id and event.details["queried_at"]


def test_no_match_is_said_plainly_and_nothing_is_attached(org_on):
    ref, case_id = org_on.refused_case()
    client, resp = lookup(org_on, "leader", ref, "post-000")
    shown = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "har ingen begrundelse for dette id" in shown
    assert "transparensdatabase (" in shown and "databasen har ingen begrundelse for dette id" in shown  # timeline
    assert attachments(org_on, case_id) == []
    assert [e.details["result"] for e in events(org_on, case_id)] == ["no_match"]


@pytest.mark.parametrize("puid, why, said", [("boom", "HTTP 500", "svarede med en fejl (HTTP 500)"),
                                             ("slow", "timeout", "intet svar i tide")])
def test_a_server_error_or_a_timeout_is_a_failed_lookup_never_a_match(org_on, puid, why, said):
    ref, case_id = org_on.refused_case()
    client, resp = lookup(org_on, "leader", ref, puid)
    shown = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Opslaget mislykkedes" in shown and "der er ikke fundet nogen begrundelse" in shown and said in shown
    assert attachments(org_on, case_id) == []
    [event] = events(org_on, case_id)
    assert event.details["result"] == "failed" and why in event.details["detail"].lower().replace("http", "HTTP")


def test_only_those_who_manage_the_case_may_look_up(org_on):
    ref, case_id = org_on.refused_case()
    before = len(FakeTdb.seen)
    for key in ("employee", "leader-b"):
        _, resp = lookup(org_on, key, ref, "post-777")
        assert resp.status_code in (403, 404)
    assert len(FakeTdb.seen) == before and events(org_on, case_id) == []


def test_an_empty_content_id_is_refused_with_a_danish_message(org_on):
    ref, case_id = org_on.refused_case()
    client, resp = lookup(org_on, "leader", ref, "  ")
    assert "Skriv indholdets id hos platformen" in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert events(org_on, case_id) == []


def test_a_refused_token_is_a_failed_lookup(tmp_path_factory, tdb_server):
    org = make_org(tmp_path_factory, "tdb-bad-token", dsa_tdb_url=tdb_server, dsa_tdb_token="X|forkert",
                   dsa_tdb_timeout=1)
    try:
        ref, case_id = org.refused_case()
        client, resp = lookup(org, "leader", ref, "post-777")
        assert "databasen afviste nøglen (HTTP 401)" in client.get(resp.headers["Location"]).get_data(as_text=True)
        assert attachments(org, case_id) == []
        assert [(e.details["result"], e.details["http_status"]) for e in events(org, case_id)] == [("failed", 401)]
    finally:
        org.rt.close()
