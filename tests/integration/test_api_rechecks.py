"""Re-checks in the JSON API (issue 10 point 3), through the real Flask app with CSRF on: the case file
lists every re-check with its verdict, reason, captures and times; POST starts one (202) with the
pages' permissions; errors carry stable codes."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Case, Evidence, EvidenceState, Recheck, User
from tests.support.factories import make_case, make_settings, make_unit, make_user
from tests.support.recheck_captures import finish, gone, manifest, sealed
from tests.support.database import new_runtime
from tracker.workflow import recheck
from tracker.cases.evidence import store_bundle
from tracker.adapters.runtime import Runtime
from tracker.accounts.tokens import create_token
from webui.app import create_app

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
PEOPLE = [("employee-A", "employee", "A"), ("amr-A", "amr", "A"), ("leader-A", "leader", "A"),
          ("leader-B", "leader", "B"), ("employee-B", "employee", "B"), ("hr", "hr", "B"), ("admin", "admin", "A")]


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

    def captured_case(self, captured: bool = True) -> tuple[str, int, int]:
        with self.rt.transaction() as s:
            case = make_case(s, s.get(User, self.ids["employee-A"]))
            ref, case_id, base_id = case.ref, case.id, case.evidence[0].id
        if captured:
            store_bundle(self.rt, base_id, sealed(manifest()))
        return ref, case_id, base_id

    def call(self, method: str, path: str, key: str | None, **kw):
        headers = kw.pop("headers", {})
        if key is not None:
            headers.setdefault("Authorization", f"Bearer {self.tokens[key]}")
        return self.client.open(path, method=method, headers=headers, **kw)

    def rechecks(self, case_id: int) -> list[Recheck]:
        with self.rt.Session() as s:
            return list(s.execute(select(Recheck).where(Recheck.case_id == case_id).order_by(Recheck.id)).scalars())


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("api-rechecks")))
    yield Org(rt)
    rt.close()


def test_the_leader_starts_a_recheck_and_the_case_file_lists_it_pending_then_decided(org):
    ref, case_id, base_id = org.captured_case()
    resp = org.call("POST", f"/api/v1/cases/{ref}/rechecks", "leader-A")
    assert resp.status_code == 202, resp.get_json()
    body = resp.get_json()
    [row] = org.rechecks(case_id)
    assert body["id"] == row.id and body["ids"] == [row.id] and resp.headers["Location"] == f"/api/v1/cases/{ref}"
    assert body["rechecks"][0]["state"] == "pending" and body["rechecks"][0]["verdict"] is None
    with org.rt.Session() as s:
        ev = s.get(Evidence, row.evidence_id)
        assert (ev.state, ev.created_by_id, row.baseline_evidence_id) == (EvidenceState.queued, org.ids["leader-A"],
                                                                          base_id)
    assert [t.args[0] for t in org.rt.huey.pending() if t.name == "capture_evidence"][-1] == row.evidence_id
    assert "Set-Cookie" not in resp.headers
    # asked again while the capture is queued: the same re-check, not a second capture
    again = org.call("POST", f"/api/v1/cases/{ref}/rechecks", "hr", json={})
    assert again.status_code == 202 and again.get_json()["id"] == row.id and len(org.rechecks(case_id)) == 1

    listed = org.call("GET", f"/api/v1/cases/{ref}", "employee-A").get_json()["rechecks"]
    assert [(r["id"], r["state"], r["verdict"], r["evidence_id"]) for r in listed] == [
        (row.id, "pending", None, row.evidence_id)]

    assert finish(org.rt, row.id, gone()) == "removed_pending"
    [item] = org.call("GET", f"/api/v1/cases/{ref}", "leader-A").get_json()["rechecks"]
    assert (item["verdict"], item["removal_confirmed"], item["reason_code"]) == ("removed", False, "http_gone")
    assert item["reason"] == "the server answered HTTP 404: the post's address no longer exists"
    assert item["baseline_evidence_id"] == base_id and item["decided_by"] is None
    assert ISO_WITH_OFFSET.match(item["created_at"]) and ISO_WITH_OFFSET.match(item["decided_at"])
    with org.rt.Session() as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.case_id == case_id,
                                                    AuditEvent.action == "recheck.request")).scalars().all()
        assert [(e.actor_id, e.details["via"]) for e in events] == [(org.ids["leader-A"], "api"),
                                                                    (org.ids["hr"], "api")]


def test_every_verdict_appears_in_the_api_words_with_its_reason(org):
    ref, case_id, base_id = org.captured_case()
    outcomes = [(manifest(), "still_online"), (manifest(text="b" * 64), "changed"),
                (manifest(status="login_wall", text=None, basis=None), "unreachable"),
                (manifest(text=None, basis="screenshot_viewport"), "uncertain")]
    for m, verdict in outcomes:
        assert finish(org.rt, recheck.start_recheck(org.rt, case_id, base_id), m, page_text="Forside") == verdict
    with org.rt.transaction() as s:  # the leader decides the uncertain one: a removal, with the leader named
        unsure = next(r for r in org.rechecks(case_id) if r.verdict == "uncertain")
        recheck.decide_uncertain(s, s.get(Case, case_id), unsure.id, "removed", s.get(User, org.ids["leader-A"]))
    for _ in range(2):
        assert finish(org.rt, recheck.start_recheck(org.rt, case_id, base_id), gone()) == "removed"
    listed = org.call("GET", f"/api/v1/cases/{ref}", "hr").get_json()["rechecks"]
    assert [r["verdict"] for r in listed] == ["still_online", "changed", "unreachable", "removed", "removed",
                                              "removed"]
    assert [r["removal_confirmed"] for r in listed] == [None, None, None, False, True, True]
    assert listed[3]["decided_by"] == {"id": org.ids["leader-A"], "name": "Person leader-A"}
    assert listed[3]["reason_code"] == "leader_removed"
    assert listed[2]["reason"].startswith("a login page stood in place of the post")
    assert all(r["reason"] and r["evidence_id"] for r in listed)


def test_who_may_start_one_and_the_errors_have_stable_codes(org):
    ref, case_id, _ = org.captured_case()
    for key in ("leader-B", "employee-B", "admin"):  # may not see the case: exactly like no case at all
        resp = org.call("POST", f"/api/v1/cases/{ref}/rechecks", key)
        assert resp.status_code == 404 and resp.get_json()["code"] == "not_found", key
        assert ref not in resp.get_data(as_text=True)
    assert org.call("POST", "/api/v1/cases/V-2000-99999/rechecks", "leader-A").get_json()["code"] == "not_found"
    resp = org.call("POST", f"/api/v1/cases/{ref}/rechecks", None)
    assert resp.status_code == 401 and resp.get_json()["code"] == "unauthorized"
    resp = org.call("POST", f"/api/v1/cases/{ref}/rechecks", "leader-A", json={"url": "https://example.org"})
    assert resp.status_code == 400 and resp.get_json()["code"] == "unknown_field"
    resp = org.call("POST", f"/api/v1/cases/{ref}/rechecks", "leader-A", data="now", content_type="text/plain")
    assert resp.status_code == 415 and resp.get_json()["code"] == "unsupported_media_type"
    resp = org.call("DELETE", f"/api/v1/cases/{ref}/rechecks", "leader-A")
    assert resp.status_code == 405 and resp.get_json()["code"] == "method_not_allowed"
    assert org.rechecks(case_id) == []  # none of these started anything
    for key in ("employee-A", "amr-A"):  # the same people as on the case page
        assert org.call("POST", f"/api/v1/cases/{ref}/rechecks", key).status_code == 202, key

    bare_ref, bare_id, _ = org.captured_case(captured=False)
    resp = org.call("POST", f"/api/v1/cases/{bare_ref}/rechecks", "leader-A")
    assert resp.status_code == 409 and resp.get_json()["code"] == "no_captured_url"
    assert org.rechecks(bare_id) == []
    # the forms still need their CSRF token; the API needs none
    assert org.client.post(f"/cases/{ref}/recheck").status_code in (302, 400)
