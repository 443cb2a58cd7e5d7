"""Reporting from a phone (issue 18): the share target, and episodes without a URL with the employee's statement.

The real app (CSRF on, as in production) over a real runtime; the statement is sealed by the real capture job.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from io import BytesIO

import pytest
from sqlalchemy import func, select

from storage.models import AuditEvent, Case, Evidence, Role
from storage.types import utcnow
from tests.support.factories import CSRF_TOKEN, PASSWORD, csrf_login, make_unit, make_user, png_bytes
from tracker.cases.evidence import run_capture_job
from tracker.packaging.reports import case_report_html
from tracker.accounts.tokens import create_token
from webui.app import create_app
from webui.timefmt import format_input

SHARED_TEXT = "Se lige det her https://www.facebook.com/groups/123/posts/456/?fbclid=IwAR0xyz&utm_source=share&id=9."
CLEAN = "https://www.facebook.com/groups/123/posts/456/?id=9"


@pytest.fixture()
def site(runtime):
    """The app over a runtime on SQLite and (when configured) PostgreSQL, an employee with a token, and HR."""
    rt = runtime
    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    with rt.transaction() as s:
        unit = make_unit(s, "Borgerservice")
        employee = make_user(s, Role.employee, unit, email="medarbejder@kommune.dk")
        hr = make_user(s, Role.hr, unit, email="hr@kommune.dk")
        token = create_token(s, employee, "phone")[1]
        ids = {"employee": employee.id, "hr": hr.id}
    return rt, app, token, ids


def _token(html: str) -> str:
    return CSRF_TOKEN.search(html).group(1)


def _cases(rt) -> int:
    with rt.Session() as s:
        return s.execute(select(func.count()).select_from(Case)).scalar_one()


def test_a_link_shared_in_text_before_signing_in_comes_back_clean_in_the_form_after_the_login(site):
    rt, app, _token_, _ids = site
    client = app.test_client()
    # the share sheet's POST: no CSRF token, no session yet
    resp = client.post("/share", data={"title": "Facebook", "text": SHARED_TEXT})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=/share")
    assert _cases(rt) == 0  # sharing creates nothing
    login = client.get(resp.headers["Location"]).get_data(as_text=True)
    resp = client.post(resp.headers["Location"], data={"email": "medarbejder@kommune.dk", "password": PASSWORD,
                                                       "csrf_token": _token(login)})
    assert resp.status_code == 302 and resp.headers["Location"] == "/share"  # back to the draft, via a safe path
    resp = client.get("/share")
    assert resp.status_code == 302 and resp.headers["Location"] == "/report?delt=1"
    form = client.get("/report?delt=1").get_data(as_text=True)
    assert f'value="{CLEAN}"' in form.replace("&amp;", "&")
    assert "fbclid" not in form and "utm_source" not in form
    assert "Udfyldt med det, du delte" in form
    resp = client.post("/report", data={"csrf_token": _token(form), "kind": "url", "url": CLEAN,
                                        "episode_at": "", "description": "Se lige det her"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with rt.Session() as s:
        ev = s.execute(select(Evidence)).scalar_one()
        assert (ev.kind, ev.source_url) == ("url", CLEAN)


def test_a_link_in_url_wins_and_a_get_share_from_the_iphone_shortcut_fills_the_form(site):
    rt, app, _t, _ids = site
    client = csrf_login(app, "medarbejder@kommune.dk")
    resp = client.get("/share?url=" + "https%3A%2F%2Fx.com%2Fa%2Fstatus%2F1%3Fs%3D20%26t%3Dabc")
    assert resp.headers["Location"] == "/report?delt=1"
    form = client.get("/report?delt=1").get_data(as_text=True)
    assert 'value="https://x.com/a/status/1"' in form
    resp = client.post("/share", data={"url": "https://www.tiktok.com/@x/video/1?_t=8abc&utm_medium=app",
                                       "text": "https://other.example/ignored"})
    form = client.get(resp.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "https://www.tiktok.com/@x/video/1?_t=8abc" in form.replace("&amp;", "&") and "ignored" not in form


def test_a_shared_screenshot_is_attached_to_the_new_report_only_when_the_person_sends_the_form(site):
    rt, app, _t, _ids = site
    client = csrf_login(app, "medarbejder@kommune.dk")
    shot = png_bytes(60, 40, (10, 120, 200))
    resp = client.post("/share", data={"title": "Skærmbillede", "file": (BytesIO(shot), "Screenshot_2026.png")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302 and resp.headers["Location"] == "/share"
    assert _cases(rt) == 0
    form = client.get("/share", follow_redirects=True).get_data(as_text=True)
    assert "Screenshot_2026.png" in form and 'name="shared_file"' in form
    assert hashlib.sha256(shot).hexdigest() not in form  # the file is named in the session, never in the form
    resp = client.post("/report", data={"csrf_token": _token(form), "kind": "url", "url": "", "episode_at": "",
                                        "description": "Trussel i en besked", "shared_file": "y"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with rt.Session() as s:
        ev = s.execute(select(Evidence)).scalar_one()
        assert (ev.kind, ev.upload_sha256, ev.original_filename) == ("upload", hashlib.sha256(shot).hexdigest(),
                                                                     "Screenshot_2026.png")
    again = client.get("/report?delt=1").get_data(as_text=True)
    assert "Screenshot_2026.png" not in again  # the draft is used once


def test_a_shared_file_vaern_cannot_read_is_named_and_nothing_is_kept_for_it(site):
    rt, app, _t, _ids = site
    client = csrf_login(app, "medarbejder@kommune.dk")
    client.post("/share", data={"file": (BytesIO(b"MZ\x90\x00 not a picture"), "x.exe")},
                content_type="multipart/form-data")
    form = client.get("/share", follow_redirects=True).get_data(as_text=True)
    assert 'id="shared-file-problem"' in form and 'name="shared_file"' not in form


def test_the_report_form_still_needs_its_csrf_token(site):
    rt, app, _t, _ids = site
    client = csrf_login(app, "medarbejder@kommune.dk")
    resp = client.post("/report", data={"kind": "url", "url": CLEAN})
    assert resp.status_code == 400 and _cases(rt) == 0


def test_hr_cannot_use_the_share_target(site):
    rt, app, _t, _ids = site
    client = csrf_login(app, "hr@kommune.dk")
    assert client.post("/share", data={"text": SHARED_TEXT}).status_code == 404
    assert client.get("/share").status_code == 404


def _deadline(data: dict, rule: str) -> dict:
    return next(d for d in data["deadlines"] if d["id"] == rule)


def test_a_phone_call_through_the_form_gets_the_checklist_the_72_hour_clock_and_a_sealed_statement(site):
    rt, app, token, _ids = site
    client = csrf_login(app, "medarbejder@kommune.dk")
    form = client.get("/report").get_data(as_text=True)
    assert 'capture="environment"' in form  # the camera button
    episode = (utcnow() - timedelta(hours=3)).replace(second=0, microsecond=0)
    data = {"csrf_token": _token(form), "kind": "phone_call", "url": "", "episode_at": format_input(episode),
            "statement": "Han sagde: »Jeg ved, hvor du bor, og jeg kommer forbi.«", "who": "Mand, ringede fra 12345678",
            "where": "Direkte nummer i Borgerservice", "witnesses": "Kollega ved siden af hørte det på højttaler",
            "description": "Truende opkald"}
    refused = client.post("/report", data={**data, "statement": ""})
    assert refused.status_code == 400 and "Skriv med dine egne ord" in refused.get_data(as_text=True)
    resp = client.post("/report", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    ref = resp.headers["Location"].rsplit("/", 1)[1]
    with rt.Session() as s:
        case = s.execute(select(Case).where(Case.ref == ref)).scalar_one()
        assert case.kind == "phone_call" and case.episode_at == episode
        ev = s.execute(select(Evidence).where(Evidence.case_id == case.id)).scalar_one()
        assert ev.kind == "statement"
        evidence_id = ev.id
    assert run_capture_job(rt, evidence_id) == "done"
    with rt.Session() as s:
        ev = s.get(Evidence, evidence_id)
        arts = {a.name: a for a in ev.artifacts}
        manifest = rt.blobs.read(ev.manifest_sha256)
        assert hashlib.sha256(manifest).hexdigest() == ev.fingerprint
        m = json.loads(manifest)
        statement = rt.blobs.read(arts["statement.json"].sha256)
        assert m["original"]["sha256"] == hashlib.sha256(statement).hexdigest()
        assert m["kind"] == "statement" and m["ended_at_utc"]
        doc = json.loads(statement)
        assert (doc["kind"], doc["who"], doc["witnesses"]) == ("phone_call", data["who"], data["witnesses"])
        assert doc["what"] == data["statement"] and datetime.fromisoformat(doc["when"]) == episode
        report = case_report_html(rt, s, s.get(Case, ev.case_id))
        assert "Medarbejderens forklaring" in report and "Jeg ved, hvor du bor" in report
    api = app.test_client().get(f"/api/v1/cases/{ref}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert api["kind"] == "phone_call" and api["online_content"] is False
    police = _deadline(api, "police_report")
    assert datetime.fromisoformat(police["due_at"]) == episode + timedelta(hours=72)
    assert police["state"] == "open"
    step_ids = {st["id"] for st in api["steps"]}
    assert {"police_report", "work_injury_report", "secure_evidence"} <= step_ids
    assert not step_ids & {"request_to_author", "platform_notice", "injunction"}  # nothing online: no ladder
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    assert "Medarbejderens forklaring" in page and "Jeg ved, hvor du bor" in page
    assert "Episoden var et telefonopkald." in page  # the timeline's sentence for the opening


def test_a_phone_call_through_the_api_with_its_deadlines(site):
    rt, app, token, _ids = site
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    episode = "2026-11-20T14:05:00+01:00"
    missing = client.post("/api/v1/cases", headers=auth, json={"kind": "phone_call", "episode_at": episode})
    assert missing.status_code == 400 and missing.get_json()["code"] == "statement_missing"
    bad = client.post("/api/v1/cases", headers=auth, json={"kind": "fax", "statement": "x"})
    assert bad.status_code == 400 and bad.get_json()["code"] == "bad_kind"
    resp = client.post("/api/v1/cases", headers=auth, json={
        "kind": "phone_call", "episode_at": episode, "statement": "Du skal passe på, når du går hjem.",
        "who": "Ukendt mand", "witnesses": "Ingen"})
    assert resp.status_code == 201, resp.get_json()
    ref = resp.get_json()["ref"]
    with rt.Session() as s:
        ev = s.execute(select(Evidence).join(Case).where(Case.ref == ref)).scalar_one()
        assert ev.kind == "statement" and ev.source_url is None
        evidence_id = ev.id
    assert run_capture_job(rt, evidence_id) == "done"
    data = client.get(f"/api/v1/cases/{ref}", headers=auth).get_json()
    assert data["kind"] == "phone_call" and data["online_content"] is False
    assert _deadline(data, "police_report")["due_at"] == "2026-11-23T14:05:00+01:00"  # 72 hours after the call
    assert {"statement.json", "statement.txt", "manifest.json"} <= {a["name"] for a in data["evidence"][0]["artifacts"]}
    assert not {st["id"] for st in data["steps"]} & {"request_to_author", "platform_notice"}
    listed = client.get("/api/v1/cases", headers=auth).get_json()["cases"]
    assert [c["kind"] for c in listed] == ["phone_call"]
    # a URL case keeps its ladder, and needs its address as before
    assert client.post("/api/v1/cases", headers=auth, json={"description": "x"}).get_json()["code"] == "url_missing"
    url_case = client.post("/api/v1/cases", headers=auth, json={"url": CLEAN}).get_json()["ref"]
    steps = {st["id"] for st in client.get(f"/api/v1/cases/{url_case}", headers=auth).get_json()["steps"]}
    assert "request_to_author" in steps
    with rt.Session() as s:
        created = s.execute(select(AuditEvent).where(AuditEvent.action == "case.create")).scalars().first()
        assert created.details.get("kind") == "phone_call"
