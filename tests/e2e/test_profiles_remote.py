"""Creating a capture profile by logging in through Værn's remote browser (issue 14 point 1), driven through
the admin page in Chromium against the local login-walled platform.

The administrator opens the remote browser on the platform's login page, clicks into the screencast's
e-mail and password fields, types, submits with Enter and saves the profile. A capture of the guarded post
then succeeds with it; what was typed appears in no log record, no output, no database row and no file
under the data directory. The sessions: one per administrator, closed on cancel and after idling; input
needs the CSRF token and a refused event is not echoed. Who else may use the new routes (nobody: 404):
tests/e2e/test_route_matrix.py.
"""
from __future__ import annotations

import gzip
import json
import logging
import re
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from storage.models import AuditEvent, Base, CaptureProfile, Evidence, Role
from tests.support.browser import (DESKTOP, PHONE, assert_fits_the_width, assert_no_serious_axe_findings, log_in,
                                   new_page, open_browser, screenshot, served)
from tests.support.factories import csrf_login, make_case, make_unit, make_user
from tests.support.login_platform import LOGIN_EMAIL, LOGIN_PASSWORD, POST, SESSION, Platform
from tracker.accounts import profiles
from tracker.cases.evidence import run_capture_job
from webui import remote_profiles
from webui.app import create_app

#: a full run once failed here on ResourceWarnings "unclosed transport" for three of Chromium's connections to a
#: closed remote browser's egress-proxy port (mitmproxy), found by the garbage collector; the sockets are closed
#: then, and their origin is not found yet (a connection left open when the proxy stops does not show it)
pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning")]

ACCOUNT = "Kommunens testkonto (Team Digital)"
#: a remote Chromium starts, loads a page and sends its first frame: seconds on a loaded machine (a full run at
#: load 5-7 once took more than the default 5 s)
REMOTE_MS = 30_000


@pytest.fixture(scope="module")
def platform():
    with Platform() as p:
        yield p


def field_centres(browser, url: str, width: int, height: int,
                  selectors=("input[name=email]", "input[name=password]")) -> list[tuple[float, float]]:
    """Where elements of the platform's page are at the remote browser's window size (their centres)."""
    page = new_page(browser, viewport={"width": width, "height": height})
    try:
        page.goto(url)
        out = []
        for selector in selectors:
            box = page.locator(selector).bounding_box()
            out.append((box["x"] + box["width"] / 2, box["y"] + box["height"] / 2))
        return out
    finally:
        page.context.close()


def click_remote(page, x: float, y: float, width: int, height: int) -> None:
    """Click the screencast where the remote page's point (x, y) is shown (the picture may be scaled)."""
    box = page.locator("#remote-frame").bounding_box()
    page.mouse.click(box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height)


def every_file(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` as bytes; gzip and zlib streams also decompressed."""
    out = {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        out[str(path)] = data
        for name, unpack in (("gunzip", gzip.decompress), ("zlib", zlib.decompress)):
            try:
                out[f"{path} ({name})"] = unpack(data)
            except (OSError, zlib.error, EOFError):
                pass
    return out


def every_row(rt) -> str:
    with rt.Session() as s:
        return "\n".join(repr(tuple(row)) for table in Base.metadata.sorted_tables
                         for row in s.execute(select(table)).all())


def test_an_admin_logs_in_through_the_remote_browser_saves_a_profile_and_a_capture_then_gets_the_post(
        make_runtime, platform, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    rt = make_runtime(capture_allowed_hosts=f"127.0.0.1:{platform.port}")
    width, height = rt.capture_options.viewport_width, rt.capture_options.viewport_height
    with rt.transaction() as s:
        admin_email = make_user(s, Role.admin, name="Anna Admin").email
    app = create_app(runtime=rt)

    with served(app) as base, open_browser() as browser:
        email_at, password_at = field_centres(browser, platform.url("/login"), width, height)
        page = new_page(browser, timeout_ms=30_000, **DESKTOP)
        log_in(page, base, admin_email)
        page.goto(f"{base}/admin/profiles")
        assert_no_serious_axe_findings(page, "the profiles page with the remote-browser form")
        screenshot(page, "profile-remote-open-form")
        page.get_by_label("Adressen på login-siden").fill(platform.url("/login"))
        page.get_by_role("button", name="Åbn fjernbrowser").click()
        expect(page).to_have_url(f"{base}/admin/profiles/remote")
        status = page.locator("#remote-status")
        expect(status).to_contain_text("Side: Log ind", timeout=REMOTE_MS)  # the first frame of the platform's login page came
        expect(page.get_by_role("application", name="Fjernbrowser")).to_be_visible()
        assert_no_serious_axe_findings(page, "the remote browser page")
        screenshot(page, "profile-remote-login-desktop")

        click_remote(page, *email_at, width, height)
        expect(page.locator("#remote-screen")).to_be_focused()
        page.keyboard.type(LOGIN_EMAIL)
        click_remote(page, *password_at, width, height)
        page.keyboard.type(LOGIN_PASSWORD)
        page.keyboard.press("Enter")
        expect(status).to_contain_text("Side: Borgerforeningen", timeout=REMOTE_MS)  # logged in: the platform showed the post
        assert page.get_by_label("Værter").input_value() == f"127.0.0.1:{platform.port}"  # from the start page
        screenshot(page, "profile-remote-logged-in-desktop")

        phone = new_page(browser, **PHONE)  # the same session seen at phone size: the page does not break
        log_in(phone, base, admin_email)
        phone.goto(f"{base}/admin/profiles/remote")
        expect(phone.locator("#remote-status")).to_contain_text("Side: Borgerforeningen", timeout=REMOTE_MS)
        assert_fits_the_width(phone, "the remote browser page at 390 px")
        screenshot(phone, "profile-remote-phone")
        phone.context.close()

        page.keyboard.press("Escape")  # the keyboard user's way out of the screencast: to the save form
        expect(page.get_by_label("Profilens navn")).to_be_focused()
        page.get_by_label("Profilens navn").fill("facebook-team")
        page.get_by_label("Konto").fill(ACCOUNT)
        page.get_by_role("button", name="Gem profil").click()
        expect(page.get_by_text("Profilen facebook-team er gemt; fjernbrowseren er lukket.")).to_be_visible()
        assert not app.extensions["vaern_remote_browsers"]._held, "saving closed the session"
        assert page.request.get(f"{base}/admin/profiles/remote/frame").status == 410
        page.context.close()

    with rt.Session() as s:
        row = s.execute(select(CaptureProfile)).scalar_one()
        assert (row.name, row.account, row.hosts, row.status) == (
            "facebook-team", ACCOUNT, [f"127.0.0.1:{platform.port}"], "active")
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "profile.import")).scalar_one()
        assert event.details["via"] == "remote_browser" and event.actor_id is not None

    # the saved login opens the guarded post
    with rt.transaction() as s:
        unit = make_unit(s)
        case = make_case(s, make_user(s, Role.employee, unit), url=platform.url(POST))
        ev_id = case.evidence[0].id
    assert run_capture_job(rt, ev_id) == "done"
    with rt.Session() as s:
        ev = s.get(Evidence, ev_id)
        assert ev.capture_status == "ok"
        manifest = json.loads(rt.blobs.read(ev.manifest_sha256))
    assert manifest["profile"] == {"name": "facebook-team", "account": ACCOUNT}

    # what was typed is nowhere: logs, output, database rows, files under the data directory
    typed = [LOGIN_PASSWORD, LOGIN_EMAIL]
    out = capfd.readouterr()
    logs = caplog.text + "\n".join(repr(r.args) for r in caplog.records)
    rows = every_row(rt)
    assert "facebook-team" in rows and SESSION not in rows, "the rows were read (and the login is encrypted)"
    files = every_file(Path(rt.settings.data_dir))
    assert any(name.endswith(".warc.gz (gunzip)") or b"WARC/1" in data for name, data in files.items()), \
        "the capture's files were read"
    for secret in typed:
        assert secret not in logs, "typed text in a log record"
        assert secret not in out.out + out.err, "typed text in the output"
        assert secret not in rows, "typed text in a database row"
        for name, data in files.items():
            assert secret.encode() not in data, f"typed text in {name}"


def test_the_login_works_with_the_keyboard_alone(make_runtime, platform):
    """Tab to the screencast, Tab inside the remote page, type, Enter; Escape leaves for the save form."""
    rt = make_runtime(capture_allowed_hosts=f"127.0.0.1:{platform.port}")
    with rt.transaction() as s:
        admin_email = make_user(s, Role.admin).email
    app = create_app(runtime=rt)
    with served(app) as base, open_browser() as browser:
        page = new_page(browser, timeout_ms=30_000, **DESKTOP)
        log_in(page, base, admin_email)
        page.goto(f"{base}/admin/profiles")
        page.get_by_label("Adressen på login-siden").fill(platform.url("/login"))
        page.keyboard.press("Enter")
        status = page.locator("#remote-status")
        expect(status).to_contain_text("Side: Log ind", timeout=REMOTE_MS)
        for _ in range(30):  # from the top of the page to the screencast, by Tab alone
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "remote-screen":
                break
        expect(page.get_by_role("application", name="Fjernbrowser")).to_be_focused()
        page.keyboard.press("Tab")  # forwarded: the remote page's first field
        page.keyboard.type(LOGIN_EMAIL)
        page.keyboard.press("Tab")
        page.keyboard.type(LOGIN_PASSWORD)
        page.keyboard.press("Enter")
        expect(status).to_contain_text("Side: Borgerforeningen", timeout=REMOTE_MS)
        page.keyboard.press("Escape")
        expect(page.get_by_label("Profilens navn")).to_be_focused()
        page.keyboard.type("keyboard-team")
        page.get_by_role("button", name="Gem profil").press("Enter")
        expect(page.get_by_text("Profilen keyboard-team er gemt")).to_be_visible()
        page.context.close()
    with rt.Session() as s:
        assert s.execute(select(CaptureProfile.name)).scalar_one() == "keyboard-team"


def test_a_login_window_that_opens_as_a_pop_up_is_shown_and_its_login_saved(make_runtime, platform):
    rt = make_runtime(capture_allowed_hosts=f"127.0.0.1:{platform.port}")
    width, height = rt.capture_options.viewport_width, rt.capture_options.viewport_height
    with rt.transaction() as s:
        admin_email = make_user(s, Role.admin).email
    app = create_app(runtime=rt)
    with served(app) as base, open_browser() as browser:
        (link_at,) = field_centres(browser, platform.url("/start"), width, height, ("#login",))
        email_at, password_at = field_centres(browser, platform.url("/login"), width, height)
        page = new_page(browser, timeout_ms=30_000, **DESKTOP)
        log_in(page, base, admin_email)
        page.goto(f"{base}/admin/profiles")
        page.get_by_label("Adressen på login-siden").fill(platform.url("/start"))
        page.get_by_role("button", name="Åbn fjernbrowser").click()
        status = page.locator("#remote-status")
        expect(status).to_contain_text("Side: Velkommen", timeout=REMOTE_MS)
        click_remote(page, *link_at, width, height)
        expect(status).to_contain_text("Side: Log ind", timeout=REMOTE_MS)  # the new window is the one shown now
        click_remote(page, *email_at, width, height)
        page.keyboard.type(LOGIN_EMAIL)
        click_remote(page, *password_at, width, height)
        page.keyboard.type(LOGIN_PASSWORD)
        page.keyboard.press("Enter")
        expect(status).to_contain_text("Side: Borgerforeningen", timeout=REMOTE_MS)
        page.get_by_label("Profilens navn").fill("popup-team")
        page.get_by_role("button", name="Gem profil").click()
        expect(page.get_by_text("Profilen popup-team er gemt")).to_be_visible()
        page.context.close()
    with rt.Session() as s:
        assert profiles.profile_for_url(s, rt.settings, platform.url(POST)).storage_state["cookies"][0]["value"] \
            == SESSION, "the pop-up's login is the context's: saved"


def test_the_remote_browser_refuses_an_address_the_capture_policy_refuses(make_runtime):
    """No private address unless allow-listed: the remote browser obeys the capture policy."""
    rt = make_runtime()
    with rt.transaction() as s:
        admin_email = make_user(s, Role.admin).email
    app = create_app(runtime=rt)
    with served(app) as base, open_browser() as browser:
        page = new_page(browser, **DESKTOP)
        log_in(page, base, admin_email)
        page.goto(f"{base}/admin/profiles")
        page.get_by_label("Adressen på login-siden").fill("http://127.0.0.1:6379/")
        page.get_by_role("button", name="Åbn fjernbrowser").click()
        expect(page.get_by_role("alert")).to_contain_text("Værn må ikke åbne denne adresse")
        assert_no_serious_axe_findings(page, "the refused address")
        page.context.close()
    assert not app.extensions.get("vaern_remote_browsers") or not app.extensions["vaern_remote_browsers"]._held


TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def test_one_remote_browser_per_admin_closed_on_cancel_and_after_idling(make_runtime, platform):
    rt = make_runtime(capture_allowed_hosts=f"127.0.0.1:{platform.port}")
    with rt.transaction() as s:
        admin = make_user(s, Role.admin)
        admin_id, admin_email = admin.id, admin.email
    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    client = csrf_login(app, admin_email)
    token = TOKEN.search(client.get("/admin/profiles").get_data(as_text=True)).group(1)
    registry = app.extensions.setdefault("vaern_remote_browsers", remote_profiles.RemoteSessions())

    def open_one():
        resp = client.post("/admin/profiles/remote", data={"csrf_token": token, "url": platform.url("/login")})
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/profiles/remote")
        return registry._held[admin_id].remote

    first = open_one()
    second = open_one()
    assert first.closed and not second.closed and list(registry._held) == [admin_id], "one per administrator"

    # input needs the CSRF token; a refused event is not repeated back
    assert client.post("/admin/profiles/remote/input", json={"type": "text", "text": "abc"}).status_code == 400
    resp = client.post("/admin/profiles/remote/input", json={"type": "key", "key": "Hemmelig"},
                       headers={"X-CSRFToken": token})
    assert resp.status_code == 400 and "Hemmelig" not in resp.get_data(as_text=True)
    resp = client.post("/admin/profiles/remote/input", json={"type": "click", "x": 99999, "y": 1},
                       headers={"X-CSRFToken": token})
    assert resp.status_code == 400
    assert client.post("/admin/profiles/remote/input", json={"type": "key", "key": "Tab"},
                       headers={"X-CSRFToken": token}).get_json() == {"ok": True}

    # unused for longer than the idle limit: closed at the next look (the sweeper thread does the same)
    registry._held[admin_id].used -= remote_profiles.IDLE_SECONDS + 1
    resp = client.get("/admin/profiles/remote/frame")
    assert resp.status_code == 410 and resp.get_json()["ended"] is True
    assert second.closed and not registry._held
    assert client.get("/admin/profiles/remote").status_code == 302  # back to the profiles page

    third = open_one()
    resp = client.post("/admin/profiles/remote/cancel", data={"csrf_token": token})
    assert resp.status_code == 302 and third.closed and not registry._held
    assert "Fjernbrowseren er lukket; intet blev gemt." in client.get("/admin/profiles").get_data(as_text=True)
    with rt.Session() as s:
        assert s.execute(select(CaptureProfile)).first() is None
