"""The JSON API with bearer tokens, through the real Flask app over a real runtime (SQLite and PostgreSQL).

Tokens come from the real `vaern token create` command or from tracker.accounts.tokens; CSRF protection is on,
as in production, so the tests also show that the API needs no CSRF token while the forms still do.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from storage.models import (ApiToken, AuditEvent, Base, Case, CaseClock, CaseStep, Evidence, EvidenceState, StepState,
                            User)
from tests.support.factories import PASSWORD, make_case, make_done_evidence, make_settings, make_unit, make_user
from tests.support.cli import said, vaern
from tests.support.database import new_runtime
from tracker.errors import DomainError
from tracker.adapters.runtime import Runtime
from tracker.accounts.tokens import TOKEN_PATTERN, create_token, create_token_for_email, revoke_tokens_for_email
from webui.app import create_app

REF = re.compile(r"^V-\d{4}-\d{5}$")
#: ISO 8601 with an offset, as the API writes every time
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
EPISODE = "2026-11-20T14:05:00+01:00"
#: (key, role, unit); the case belongs to employee-A of unit A
PEOPLE = [("employee-A", "employee", "A"), ("leader-A", "leader", "A"), ("leader-B", "leader", "B"),
          ("employee-B", "employee", "B"), ("hr", "hr", "B"), ("admin", "admin", "A")]


class Org:
    """One runtime's app (CSRF on), its people with a token each, and employee-A's case with a capture."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True)
        self.ids: dict[str, int] = {}
        self.emails: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        with rt.transaction() as s:
            units = {"A": make_unit(s, "Jobcenter"), "B": make_unit(s, "Borgerservice")}
            for key, role, unit in PEOPLE:
                u = make_user(s, role, units[unit], email=f"{key.lower()}@kommune.dk", name=f"Person {key}")
                self.ids[key], self.emails[key] = u.id, u.email
                self.tokens[key] = create_token(s, u, name="test")[1]
            case = make_case(s, s.get(User, self.ids["employee-A"]), description="Trusler i kommentarfeltet",
                             episode_at=datetime(2026, 11, 20, 13, 5, tzinfo=timezone.utc))
            self.ref, self.case_id = case.ref, case.id
        self.evidence_id = make_done_evidence(rt, self.case_id, self.ids["employee-A"])
        self.client = self.app.test_client()

    def call(self, method: str, path: str, key: str | None = "employee-A", **kw):
        headers = kw.pop("headers", {})
        if key is not None:
            headers.setdefault("Authorization", f"Bearer {self.tokens[key]}")
        return self.client.open(path, method=method, headers=headers, **kw)

    def get(self, path: str, key: str | None = "employee-A", **kw):
        return self.call("GET", path, key, **kw)

    def post(self, path: str, key: str | None = "employee-A", **kw):
        return self.call("POST", path, key, **kw)

    def count(self, model, *where) -> int:
        with self.rt.Session() as s:
            return s.execute(select(func.count()).select_from(model).where(*where)).scalar()


@pytest.fixture
def org(runtime) -> Org:
    """The organisation on SQLite and (when configured) on PostgreSQL."""
    return Org(runtime)


@pytest.fixture(scope="module")
def sqlite_org(tmp_path_factory):
    """The same organisation on SQLite, shared by the read-only and input-checking tests."""
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("api")))
    yield Org(rt)
    rt.close()


def assert_error(resp, status: int, code: str, field: str | None = None) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["code"] == code and body["field"] == field
    assert isinstance(body["error"], str) and body["error"]
    return body


# -- tokens ---------------------------------------------------------------------------------------
def test_token_create_on_the_command_line_prints_a_token_that_works_and_revoke_stops_it(tmp_path):
    data_dir = tmp_path / "data"
    rt = new_runtime(make_settings(data_dir))
    with rt.transaction() as s:
        make_user(s, "leader", make_unit(s, "Jobcenter"), email="leder@kommune.dk")
    rt.close()

    done = vaern("token", "create", "--email", "Leder@Kommune.dk", "--name", "sagssystem", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    token = done.stdout.split()[-1]
    assert TOKEN_PATTERN.match(token) and "leder@kommune.dk" in done.stdout

    unknown = vaern("token", "create", "--email", "ingen@kommune.dk", data_dir=data_dir)
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert said(unknown.stderr) == ["vaern: no user with e-mail 'ingen@kommune.dk'"]

    rt = new_runtime(make_settings(data_dir))
    try:
        client = create_app(runtime=rt).test_client()
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/cases", headers=auth).get_json() == {"cases": []}
        with rt.Session() as s:
            row = s.execute(select(ApiToken)).scalar_one()
            assert row.name == "sagssystem" and row.last_used_at is not None
            actions = list(s.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())
            assert "token.create" in actions

        revoked = vaern("token", "revoke", "--email", "leder@kommune.dk", data_dir=data_dir)
        assert revoked.returncode == 0 and "1 token(s)" in revoked.stdout, revoked.stderr
        assert_error(client.get("/api/v1/cases", headers=auth), 401, "unauthorized")
    finally:
        rt.close()


def test_a_token_is_stored_only_as_its_sha256(runtime):
    with runtime.transaction() as s:
        user = make_user(s, "leader", make_unit(s))
        row, secret = create_token(s, user, name="integration")
        token_id = row.id
    assert TOKEN_PATTERN.match(secret)
    with runtime.Session() as s:
        assert s.get(ApiToken, token_id).token_sha256 == hashlib.sha256(secret.encode()).hexdigest()
        for table in Base.metadata.sorted_tables:  # every column of every row of every table
            for values in s.execute(select(table)).all():
                assert not any(secret in str(v) or secret[6:] in str(v) for v in values), table.name
    if runtime.settings.resolved_database_url.startswith("sqlite"):
        files = list(runtime.settings.data_dir.glob("vaern.sqlite3*"))  # the database and its WAL, byte for byte
        assert files
        for f in files:
            assert secret[6:].encode() not in f.read_bytes(), f


def test_the_token_functions_refuse_unknown_and_inactive_users(runtime):
    with runtime.transaction() as s:
        user = make_user(s, "employee", make_unit(s), email="tidligere@kommune.dk")
        user.active = False
        with pytest.raises(DomainError) as unknown:
            create_token_for_email(s, "ingen@kommune.dk")
        with pytest.raises(DomainError) as inactive:
            create_token_for_email(s, "tidligere@kommune.dk")
    assert (unknown.value.code, inactive.value.code) == ("user_unknown", "user_inactive")


# -- authentication -------------------------------------------------------------------------------
def test_requests_without_a_valid_token_are_401_with_a_bearer_challenge(org):
    with org.rt.transaction() as s:
        revoke_tokens_for_email(s, org.emails["leader-A"])
        s.get(User, org.ids["leader-B"]).active = False
    unknown = "vaern_" + "A" * 43
    headers = [{}, {"Authorization": ""}, {"Authorization": "Basic bGVkZXI6a29kZQ=="}, {"Authorization": "Bearer"},
               {"Authorization": "Bearer ikke-et-token"}, {"Authorization": f"Bearer {unknown}"},
               {"Authorization": f"Bearer {org.tokens['leader-A']}"},  # revoked
               {"Authorization": f"Bearer {org.tokens['leader-B']}"}]  # user deactivated
    for h in headers:
        for method, path in (("GET", f"/api/v1/cases/{org.ref}"), ("GET", "/api/v1/cases"),
                             ("POST", "/api/v1/cases")):
            resp = org.call(method, path, key=None, headers=h, json={"url": "https://example.org/x"})
            assert_error(resp, 401, "unauthorized")
            assert resp.headers["WWW-Authenticate"].startswith("Bearer"), h
    assert org.count(Case) == 1
    assert org.get("/api/v1/cases", key="hr").status_code == 200  # other tokens are untouched


def test_using_a_token_records_when_it_was_last_used(sqlite_org):
    def last_used():
        with sqlite_org.rt.Session() as s:
            return s.execute(select(ApiToken.last_used_at).join(User)
                             .where(User.email == sqlite_org.emails["hr"])).scalar()

    before = last_used()
    resp = sqlite_org.get("/api/v1/cases/V-1999-00001", key="hr")  # even a request that then fails
    assert resp.status_code == 404
    after = last_used()
    assert after is not None and (before is None or after > before)


# -- opening a case ---------------------------------------------------------------------------------
def test_posting_a_report_opens_a_case_with_its_evidence_queued_for_capture(org):
    pending = org.rt.huey.pending_count()
    resp = org.post("/api/v1/cases", key="leader-A", json={
        "url": "https://www.facebook.com/groups/borgere/posts/123", "episode_at": EPISODE,
        "description": "Han skrev at han ved hvor jeg bor"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert REF.match(body["ref"]) and body["url"] == f"/api/v1/cases/{body['ref']}"
    assert resp.headers["Location"].endswith(body["url"])
    with org.rt.Session() as s:
        case = s.execute(select(Case).where(Case.ref == body["ref"])).scalar_one()
        assert (case.employee_id, case.reported_by_id) == (org.ids["leader-A"], org.ids["leader-A"])
        assert case.episode_at == datetime(2026, 11, 20, 13, 5, tzinfo=timezone.utc)
        [ev] = case.evidence
        assert (ev.state, ev.source_url) == (EvidenceState.queued, "https://www.facebook.com/groups/borgere/posts/123")
        created = s.execute(select(AuditEvent).where(AuditEvent.case_id == case.id,
                                                     AuditEvent.action == "case.create")).scalar_one()
        assert created.actor_id == org.ids["leader-A"]
    assert org.rt.huey.pending_count() == pending + 1  # enqueued once the row was committed

    got = org.get(body["url"], key="leader-A").get_json()
    assert got["episode_at"] == EPISODE and got["evidence"][0]["state"] == "queued"
    assert got["evidence"][0]["fingerprint"] is None and got["evidence"][0]["artifacts"] == []


def test_an_unknown_episode_time_may_be_left_out(sqlite_org):
    resp = sqlite_org.post("/api/v1/cases", json={"url": "https://x.com/nogen/status/1", "episode_at": None})
    assert resp.status_code == 201
    got = sqlite_org.get(resp.get_json()["url"]).get_json()
    assert got["episode_at"] is None and got["description"] == ""
    police = next(d for d in got["deadlines"] if d["id"] == "police_report")
    assert (police["state"], police["due_at"]) == ("unknown_start", None)


@pytest.mark.parametrize("body, code, field", [
    ({"url": "https://example.org/x", "episode_at": "2026-11-20T14:05:00"}, "episode_naive", "episode_at"),
    ({"url": "https://example.org/x", "episode_at": "2026-11-20"}, "episode_naive", "episode_at"),
    ({"url": "https://example.org/x", "episode_at": "i går ved 14-tiden"}, "episode_malformed", "episode_at"),
    ({"url": "https://example.org/x", "episode_at": "2099-01-01T00:00:00Z"}, "episode_future", "episode_at"),
    ({"url": "https://example.org/x", "episode_at": 1732107900}, "wrong_type", "episode_at"),
    ({"url": "ftp://example.org/opslag.txt"}, "url_scheme", "url"),
    ({"url": "javascript:alert(1)"}, "url_scheme", "url"),
    ({"url": ""}, "url_missing", "url"),
    ({}, "url_missing", "url"),
    ({"url": ["https://example.org/x"]}, "wrong_type", "url"),
    ({"url": "https://example.org/x", "description": "x" * 5001}, "description_too_long", "description"),
    ({"url": "https://example.org/x", "employee_id": 1}, "unknown_field", "employee_id"),
])
def test_bad_input_is_a_400_naming_the_field_and_opens_nothing(sqlite_org, body, code, field):
    before = sqlite_org.count(Case)
    assert_error(sqlite_org.post("/api/v1/cases", json=body), 400, code, field)
    assert sqlite_org.count(Case) == before


def test_a_naive_episode_time_is_refused_with_a_message_showing_the_format(sqlite_org):
    body = assert_error(sqlite_org.post("/api/v1/cases", json={"url": "https://example.org/x",
                                                               "episode_at": "2026-11-20T14:05"}),
                        400, "episode_naive", "episode_at")
    assert "offset" in body["error"] and "+01:00" in body["error"]


@pytest.mark.parametrize("kwargs, status, code", [
    (dict(data='{"url": "https://example.org/x"}', content_type="text/plain"), 415, "unsupported_media_type"),
    (dict(data={"url": "https://example.org/x"}), 415, "unsupported_media_type"),  # a form post
    (dict(data="url=https://example.org/x", content_type="application/x-www-form-urlencoded"), 415,
     "unsupported_media_type"),
    (dict(data='{"url": ', content_type="application/json"), 400, "bad_json"),
    (dict(data=b"\xff\xfe{", content_type="application/json"), 400, "bad_json"),
    (dict(json=["https://example.org/x"]), 400, "bad_json"),
    (dict(json={"url": "https://example.org/x", "description": "æ" * 70_000}), 413, "too_large"),
])
def test_a_body_that_is_not_a_small_json_object_is_refused(sqlite_org, kwargs, status, code):
    before = sqlite_org.count(Case)
    assert_error(sqlite_org.post("/api/v1/cases", **kwargs), status, code)
    assert sqlite_org.count(Case) == before


@pytest.mark.parametrize("key", ["hr", "admin"])
def test_roles_that_cannot_report_get_403_when_opening_a_case(sqlite_org, key):
    assert_error(sqlite_org.post("/api/v1/cases", key=key, json={"url": "https://example.org/x"}), 403, "not_allowed")


# -- reading a case ---------------------------------------------------------------------------------
def test_a_case_shows_its_finished_capture_with_fingerprint_and_files(org):
    resp = org.get(f"/api/v1/cases/{org.ref}")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    got = resp.get_json()
    assert (got["ref"], got["unit"], got["employee"]) == (org.ref, {"name": "Jobcenter"}, {"name": "Person employee-A"})
    assert got["episode_at"] == EPISODE and ISO_WITH_OFFSET.match(got["created_at"])
    assert (got["description"], got["status"]) == ("Trusler i kommentarfeltet", "open")
    queued, done = got["evidence"]
    assert queued["state"] == "queued" and queued["fingerprint"] is None
    with org.rt.Session() as s:
        ev = s.get(Evidence, org.evidence_id)
        expected = {a.name: a.sha256 for a in ev.artifacts}
        fingerprint = ev.fingerprint
    assert (done["id"], done["kind"], done["state"]) == (org.evidence_id, "url", "done")
    assert done["fingerprint"] == fingerprint and re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    assert done["source_url"] == "https://example.org/opslag/2" and done["error"] is None
    assert done["timestamp"] is None  # no TSA configured
    assert {a["name"]: a["sha256"] for a in done["artifacts"]} == expected
    manifest = next(a for a in done["artifacts"] if a["role"] == "manifest")
    assert manifest["sha256"] == fingerprint and manifest["size"] > 0 and manifest["media_type"]

    download = org.get(manifest["url"])
    assert download.status_code == 200 and download.mimetype == "application/octet-stream"
    assert hashlib.sha256(download.data).hexdigest() == fingerprint == download.headers["X-Evidence-SHA256"]
    assert org.count(AuditEvent, AuditEvent.action == "artifact.download", AuditEvent.case_id == org.case_id) == 1
    assert_error(org.get(manifest["url"], key="leader-B"), 404, "not_found")
    assert_error(org.get(manifest["url"].replace("manifest.json", "intet.png")), 404, "not_found")


def test_a_case_shows_its_steps_and_deadline_clocks(org):
    now = datetime.now(timezone.utc)
    with org.rt.transaction() as s:
        s.add(CaseStep(case_id=org.case_id, step_id="leader_conversation", state=StepState.done,
                       done_at=now - timedelta(hours=1), updated_at=now, updated_by_id=org.ids["leader-A"]))
        s.add(CaseClock(case_id=org.case_id, name="absence_start", at=now - timedelta(days=12),
                        set_by_id=org.ids["leader-A"]))
    got = org.get(f"/api/v1/cases/{org.ref}", key="leader-A").get_json()

    steps = {st["id"]: st for st in got["steps"]}
    assert steps["inform_leader"]["state"] == "todo" and steps["secure_evidence"]["label_da"]
    assert steps["secure_evidence"]["state"] == "done"  # the case's capture secured the post: done by Værn
    assert steps["leader_conversation"]["state"] == "done"
    assert ISO_WITH_OFFSET.match(steps["leader_conversation"]["done_at"])
    assert [st["kind"] for st in got["steps"]][0] == "checklist" and "ladder" in {st["kind"] for st in got["steps"]}

    clocks = {d["id"]: d for d in got["deadlines"]}
    for d in clocks.values():
        assert set(d) >= {"id", "label", "due_at", "state", "legal_source"}
        assert d["state"] in {"met", "open", "at_risk", "overdue", "unknown_start", "closed"}
        assert d["due_at"] is None or ISO_WITH_OFFSET.match(d["due_at"])
    police = clocks["police_report"]  # 72 hours from the episode, long past
    assert (police["due_at"], police["state"]) == ("2026-11-23T14:05:00+01:00", "overdue")
    assert "offererstatningsloven" in police["legal_source"].lower()
    assert clocks["leader_conversation"]["state"] == "met"
    assert clocks["work_injury_report"]["state"] == "at_risk"  # 14 days from the absence, 2 days left
    assert clocks["private_prosecution"]["state"] == "unknown_start" and clocks["private_prosecution"]["due_at"] is None


def test_a_declined_police_report_closes_the_72_hour_clock_and_a_skipped_step_closes_its_own(org):
    with org.rt.transaction() as s:
        s.add(CaseStep(case_id=org.case_id, step_id="police_report", state=StepState.in_progress,
                       outcome="declined", note="Medarbejderen ønsker ikke at anmelde",
                       updated_by_id=org.ids["leader-A"]))
        s.add(CaseStep(case_id=org.case_id, step_id="work_injury_report", state=StepState.not_applicable,
                       reason="Intet fravær og intet krav", updated_by_id=org.ids["leader-A"]))
    got = org.get(f"/api/v1/cases/{org.ref}", key="leader-A").get_json()
    clocks = {d["id"]: d for d in got["deadlines"]}
    police = clocks["police_report"]
    assert (police["state"], police["closed_note"]) == ("met", "Medarbejderen ønsker ikke at anmelde")
    assert clocks["work_injury_report"]["state"] == "closed"
    steps = {st["id"]: st for st in got["steps"]}
    assert steps["declined_police_report_note"]["applies"] is True  # its precondition now holds
    assert steps["work_injury_report"]["reason"] == "Intet fravær og intet krav"


@pytest.mark.parametrize("key, sees", [("employee-A", True), ("leader-A", True), ("hr", True),
                                       ("leader-B", False), ("employee-B", False), ("admin", False)])
def test_a_case_is_shown_to_exactly_the_people_the_pages_show_it_to(sqlite_org, key, sees):
    resp = sqlite_org.get(f"/api/v1/cases/{sqlite_org.ref}", key=key)
    listed = [c["ref"] for c in sqlite_org.get("/api/v1/cases", key=key).get_json()["cases"]]
    if sees:
        assert resp.status_code == 200 and resp.get_json()["ref"] == sqlite_org.ref
        assert sqlite_org.ref in listed
    else:
        missing = sqlite_org.get("/api/v1/cases/V-2026-99999", key=key)
        assert_error(resp, 404, "not_found")
        assert resp.get_json() == missing.get_json()  # looks exactly like a case that does not exist
        assert sqlite_org.ref not in listed


def test_an_other_units_leader_gets_404_and_hr_sees_the_case_on_both_databases(org):
    assert_error(org.get(f"/api/v1/cases/{org.ref}", key="leader-B"), 404, "not_found")
    assert_error(org.get(f"/api/v1/cases/{org.ref}", key="admin"), 404, "not_found")
    assert org.get(f"/api/v1/cases/{org.ref}", key="hr").get_json()["ref"] == org.ref


def test_every_api_read_of_a_case_is_audited_with_the_token(org):
    org.get(f"/api/v1/cases/{org.ref}", key="hr")
    with org.rt.Session() as s:
        ev = s.execute(select(AuditEvent).where(AuditEvent.action == "case.view",
                                                AuditEvent.case_id == org.case_id)).scalar_one()
        token_id = s.execute(select(ApiToken.id).where(ApiToken.user_id == org.ids["hr"])).scalar_one()
    assert ev.actor_id == org.ids["hr"] and ev.details == {"via": "api", "token": token_id}


# -- the HTTP surface -------------------------------------------------------------------------------
def test_unknown_routes_and_methods_answer_in_json(sqlite_org):
    assert_error(sqlite_org.get("/api/v1/nothing-here"), 404, "not_found")
    resp = sqlite_org.call("DELETE", f"/api/v1/cases/{sqlite_org.ref}")
    assert_error(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["Allow"]
    assert_error(sqlite_org.call("PUT", "/api/v1/cases", json={}), 405, "method_not_allowed")


def test_the_api_needs_no_csrf_token_but_the_forms_still_do(sqlite_org):
    assert sqlite_org.app.config["WTF_CSRF_ENABLED"] is not False
    assert sqlite_org.post("/api/v1/cases", json={"url": "https://example.org/csrf"}).status_code == 201

    browser = sqlite_org.app.test_client()
    page = browser.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert browser.post("/login", data={"email": sqlite_org.emails["employee-A"], "password": PASSWORD,
                                        "csrf_token": csrf}).status_code == 302
    before = sqlite_org.count(Case)
    form = browser.post("/report", data={"url": "https://example.org/formular", "episode_at": "", "description": ""})
    assert form.status_code == 400 and sqlite_org.count(Case) == before
    # the logged-in browser's session cookie does not open the API
    assert_error(browser.get(f"/api/v1/cases/{sqlite_org.ref}"), 401, "unauthorized")
    assert_error(browser.post("/api/v1/cases", json={"url": "https://example.org/cookie"}), 401, "unauthorized")
    assert sqlite_org.count(Case) == before


def test_api_responses_never_set_a_cookie(sqlite_org):
    client = sqlite_org.app.test_client()
    auth = {"Authorization": f"Bearer {sqlite_org.tokens['leader-A']}"}
    responses = [
        client.get(f"/api/v1/cases/{sqlite_org.ref}?lang=en", headers=auth),
        client.get("/api/v1/cases?lang=da", headers=auth),
        client.post("/api/v1/cases?lang=en", headers=auth, json={"url": "https://example.org/cookie"}),
        client.post("/api/v1/cases", headers=auth, json={"url": "ftp://example.org/"}),
        client.get("/api/v1/cases?lang=en"),
        client.get("/api/v1/nothing?lang=en", headers=auth),
        client.delete(f"/api/v1/cases/{sqlite_org.ref}?lang=en", headers=auth),
    ]
    assert [r.status_code for r in responses] == [200, 200, 201, 400, 401, 404, 405]
    for resp in responses:
        assert "Set-Cookie" not in resp.headers, resp.request.path
    assert "Set-Cookie" in client.get("/login?lang=en").headers  # the pages still use their session
