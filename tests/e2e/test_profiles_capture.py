"""Capture profiles against a local "platform": a login form and a post guarded by a session cookie.

Real Chromium and egress proxy, the real capture job and blob store, a real SMTP server (aiosmtpd) for the
administrators' mail. Without a profile the post is a login wall; with the imported profile it is captured
and the manifest names the profile; no value of the profile appears in any stored file (the WARC read
decompressed); an expired login marks the profile logged out and tells the administrators.
"""
from __future__ import annotations

import gzip
import json

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from storage.models import Artifact, AuditEvent, CaptureProfile, Evidence, Role
from tests.support.login_platform import EXPIRED, LOCAL_TOKEN, POST, SERVER_TOKEN, SESSION, Platform
from tests.support.factories import csrf_login, make_case, make_unit, make_user
from tests.support.smtp import Inbox, free_port
from tracker.accounts import profiles
from tracker.cases.evidence import run_capture_job
from tracker.packaging.reports import evidence_report_html
from webui.app import create_app

pytestmark = pytest.mark.browser

def storage_state(port: int, session_value: str) -> bytes:
    return json.dumps({
        "cookies": [{"name": "session", "value": session_value, "domain": "127.0.0.1", "path": "/", "expires": -1,
                     "httpOnly": True, "secure": False, "sameSite": "Lax"}],
        "origins": [{"origin": f"http://127.0.0.1:{port}", "localStorage": [{"name": "token", "value": LOCAL_TOKEN}]}],
    }).encode()


@pytest.fixture(scope="module")
def platform():
    with Platform() as p:
        yield p


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


@pytest.fixture
def rt(make_runtime, platform, smtp):
    return make_runtime(capture_allowed_hosts=f"127.0.0.1:{platform.port}", smtp_host="127.0.0.1",
                        smtp_port=smtp.port, mail_from="vaern@kommune.test",
                        base_url="https://vaern.kommune.test/")


def capture(rt, url: str) -> tuple[int, str, str]:
    """A fresh case for ``url``, captured by the real job: (evidence id, case ref, the employee's e-mail)."""
    with rt.transaction() as s:
        unit = make_unit(s)
        employee = make_user(s, Role.employee, unit)
        make_user(s, Role.leader, unit)
        case = make_case(s, employee, url=url)
        ev_id, ref, email = case.evidence[0].id, case.ref, employee.email
    assert run_capture_job(rt, ev_id) == "done"
    return ev_id, ref, email


def stored_files(rt, ev_id: int) -> dict[str, bytes]:
    """Every stored file of the capture as bytes; the WARC decompressed (all its gzip members)."""
    with rt.Session() as s:
        rows = list(s.execute(select(Artifact).where(Artifact.evidence_id == ev_id)).scalars())
    files = {a.name: rt.blobs.read(a.sha256) for a in rows}
    files["traffic.warc"] = gzip.decompress(files["traffic.warc.gz"])
    return files


def manifest_of(rt, ev_id: int) -> dict:
    with rt.Session() as s:
        return json.loads(rt.blobs.read(s.get(Evidence, ev_id).manifest_sha256))


def import_(rt, platform, session_value: str, account: str = "Kommunens Facebook-konto (Team Digital)"):
    """The operator at the shell imports profile ``facebook-team`` bound to the platform's host:port."""
    with rt.transaction() as s:
        profiles.import_profile(s, None, rt.settings, "facebook-team", f"127.0.0.1:{platform.port}",
                                storage_state(platform.port, session_value), account)


def test_without_a_profile_the_post_is_a_login_wall_and_with_the_imported_profile_it_is_secured(rt, platform):
    url = platform.url(POST)
    ev_wall, *_ = capture(rt, url)
    with rt.Session() as s:
        assert s.get(Evidence, ev_wall).capture_status == "login_wall"
    assert manifest_of(rt, ev_wall)["profile"] is None

    import_(rt, platform, SESSION)
    ev_ok, ref, email = capture(rt, url)
    with rt.Session() as s:
        ev = s.get(Evidence, ev_ok)
        assert ev.capture_status == "ok"
        report = evidence_report_html(rt, s, ev)
        row = s.execute(select(CaptureProfile)).scalar_one()
        assert row.status == "active" and SESSION not in row.state_encrypted
    manifest = manifest_of(rt, ev_ok)
    assert manifest["profile"] == {"name": "facebook-team", "account": "Kommunens Facebook-konto (Team Digital)"}
    assert manifest["redaction"]["replaced"]["headers"] >= 2  # the browser's Cookie, the server's Set-Cookie
    assert "Sikret logget ind som Kommunens Facebook-konto (Team Digital)." in " ".join(report.split())

    files = stored_files(rt, ev_ok)
    assert {"page.html", "page.mhtml", "text.txt", "traffic.warc.gz", "manifest.json"} <= set(files)
    assert b"Bj\xc3\xb8rn \xc3\x98deg\xc3\xa5rd" in files["text.txt"], "the post itself was captured"
    for name, data in files.items():
        for secret in (SESSION, EXPIRED, LOCAL_TOKEN, SERVER_TOKEN):
            assert secret.encode() not in data, f"{secret} is in {name}"
    warc = files["traffic.warc"]
    assert b"Cookie: session=REDACTED" in warc and b"Set-Cookie: csrftoken=REDACTED; Path=/; HttpOnly" in warc
    assert b'window.__session = "REDACTED' in warc and b'window.__session = "REDACTED' in files["page.html"]
    assert b'data-t="REDACTED' in files["page.html"], "the local-storage value reached the page and was masked"
    with rt.Session() as s:  # nor in the audit log
        details = json.dumps([e.details for e in s.execute(select(AuditEvent)).scalars()])
    assert SESSION not in details and LOCAL_TOKEN not in details and "facebook-team" in details


def test_an_expired_login_is_a_login_wall_marks_the_profile_logged_out_and_tells_the_admins(rt, platform, smtp):
    with rt.transaction() as s:
        admin = make_user(s, Role.admin, name="Anna Admin")
        admin_email = admin.email
    import_(rt, platform, EXPIRED)
    ev_id, ref, email = capture(rt, platform.url(POST))
    with rt.Session() as s:
        ev = s.get(Evidence, ev_id)
        assert ev.capture_status == "login_wall"
        row = s.execute(select(CaptureProfile)).scalar_one()
        assert (row.status, row.logged_out_evidence_id) == ("logged_out", ev_id)
        report = " ".join(evidence_report_html(rt, s, ev).split())
    assert manifest_of(rt, ev_id)["profile"]["name"] == "facebook-team"
    assert "men mødte en login-væg: profilen er logget ud" in report
    assert [to for _, to in smtp.envelopes] == [[admin_email]]
    mail = smtp.messages[0]
    assert "facebook-team" in mail["Subject"] and "logget ud" in mail.get_content()
    assert EXPIRED not in mail.as_string() and "/admin/profiles" in mail.get_content()

    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    page = " ".join(csrf_login(app, email).get(f"/cases/{ref}").get_data(as_text=True).split())
    assert "Kommunens Facebook-konto (Team Digital)" in page and "logget ud" in page

    # a logged-out profile is not used again: the next capture goes without it
    ev_next, *_ = capture(rt, platform.url(POST))
    assert manifest_of(rt, ev_next)["profile"] is None
    assert len(smtp.messages) == 1
