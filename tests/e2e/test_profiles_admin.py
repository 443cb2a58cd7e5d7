"""Capture profiles administered from the shell (`vaern profile …`) and on the admin pages: import, list,
remove; admins only; the stored login encrypted and never shown, logged or audited."""
from __future__ import annotations

import io
import json
import re

from sqlalchemy import select

from storage.models import AuditEvent, CaptureProfile, Role
from tests.support.factories import csrf_login, make_settings, make_unit, make_user
from tests.support.cli import said, vaern
from tracker.accounts import profiles
from tracker.adapters.runtime import Runtime
from webui.app import create_app

SECRET = "c00kie-v4lue-that-must-never-show-9f8e7d"
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def state(value: str = SECRET) -> bytes:
    return json.dumps({"cookies": [{"name": "c_user", "value": value, "domain": ".facebook.com", "path": "/",
                                    "expires": -1, "httpOnly": True, "secure": True, "sameSite": "None"}],
                       "origins": []}).encode()


def test_the_cli_imports_lists_and_removes_a_profile_without_ever_printing_its_login(tmp_path):
    data = tmp_path / "data"
    file = tmp_path / "state.json"
    file.write_bytes(state())
    r = vaern("profile", "import", "facebook-team", "--hosts", "facebook.com, www.facebook.com,m.facebook.com:443",
              "--storage-state", str(file), "--account", "Kommunens Facebook-konto", data_dir=data)
    assert r.returncode == 0, r.stderr
    assert "profile 'facebook-team' imported for facebook.com, m.facebook.com:443, www.facebook.com (1 cookies)" \
        in r.stdout
    listed = vaern("profile", "list", data_dir=data)
    assert listed.stdout.splitlines() == [
        "facebook-team\tactive\tfacebook.com,m.facebook.com:443,www.facebook.com\tKommunens Facebook-konto"]
    again = vaern("profile", "import", "facebook-team", "--hosts", "facebook.com", "--storage-state", str(file),
                  data_dir=data)
    assert "replaced" in again.stdout

    bad = tmp_path / "bad.json"
    bad.write_text('{"cookies": [{"name": "x"}]}')
    refused = vaern("profile", "import", "other", "--hosts", "x.dk", "--storage-state", str(bad), data_dir=data)
    assert refused.returncode == 2 and "each cookie needs a name, a value and a domain" in said(refused.stderr)[-1]
    refused = vaern("profile", "import", "other", "--hosts", "not a host!", "--storage-state", str(file),
                    data_dir=data)
    assert refused.returncode == 2 and "is not host or host:port" in said(refused.stderr)[-1]

    gone = vaern("profile", "remove", "facebook-team", data_dir=data)
    assert gone.returncode == 0 and "removed" in gone.stdout
    missing = vaern("profile", "remove", "facebook-team", data_dir=data)
    assert missing.returncode == 2 and "no capture profile 'facebook-team'" in said(missing.stderr)[-1]
    for r in (listed, again, refused, gone, missing):
        assert SECRET not in r.stdout + r.stderr

    rt = Runtime.from_settings(make_settings(data, secret_key=None))
    try:
        with rt.Session() as s:
            events = list(s.execute(select(AuditEvent).where(AuditEvent.object_type == "capture_profile")).scalars())
        assert [e.action for e in events] == ["profile.import", "profile.import", "profile.remove"]
        assert SECRET not in json.dumps([e.details for e in events])
    finally:
        rt.close()


def test_host_matching_prefers_host_and_port_and_the_state_is_encrypted_under_the_profile_key(make_runtime):
    rt = make_runtime(profile_key="en lang tilfældig nøgle til profilerne")
    with rt.transaction() as s:
        profiles.import_profile(s, None, rt.settings, "fb-any", "facebook.com", state("v-any-123456789"), "A")
        profiles.import_profile(s, None, rt.settings, "fb-8443", "facebook.com:8443", state("v-port-123456789"), "B")
    with rt.Session() as s:
        assert profiles.profile_for_url(s, rt.settings, "https://facebook.com/x").name == "fb-any"
        assert profiles.profile_for_url(s, rt.settings, "https://facebook.com:8443/x").name == "fb-8443"
        assert profiles.profile_for_url(s, rt.settings, "https://www.facebook.com/x") is None
        stored = [r.state_encrypted for r in s.execute(select(CaptureProfile)).scalars()]
        assert stored and all("v-any" not in t and "v-port" not in t for t in stored)
    other = make_runtime(data_dir=rt.settings.data_dir, profile_key="en anden nøgle")  # the key changed
    with other.Session() as s:
        assert profiles.profile_for_url(s, other.settings, "https://facebook.com/x") is None


def test_an_admin_imports_and_removes_a_profile_on_the_admin_page_and_no_one_else_may(make_runtime):
    rt = make_runtime()
    with rt.transaction() as s:
        admin = make_user(s, Role.admin)
        leader = make_user(s, Role.leader, make_unit(s))
        admin_email, leader_email = admin.email, leader.email
    app = create_app(runtime=rt)
    app.config.update(TESTING=True)

    client = csrf_login(app, admin_email)
    page = client.get("/admin/profiles").get_data(as_text=True)
    assert "Capture-profiler" in page and "Der er ingen capture-profiler endnu." in page
    token = TOKEN.search(page).group(1)
    resp = client.post("/admin/profiles", content_type="multipart/form-data", data={
        "csrf_token": token, "name": "facebook-team", "hosts": "facebook.com, m.facebook.com",
        "account": "Kommunens Facebook-konto", "storage_state": (io.BytesIO(state()), "state.json")})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    page = client.get("/admin/profiles").get_data(as_text=True)
    assert "Profilen facebook-team er importeret." in page
    assert "facebook.com, m.facebook.com" in page and "Kommunens Facebook-konto" in page and "I brug" in page
    assert SECRET not in page

    resp = client.post("/admin/profiles", content_type="multipart/form-data", data={
        "csrf_token": token, "name": "other", "hosts": "x.dk",
        "storage_state": (io.BytesIO(b"not json"), "state.json")})
    assert resp.status_code == 400 and "Filen er ikke en Playwright storage state" in resp.get_data(as_text=True)
    resp = client.post("/admin/profiles", content_type="multipart/form-data", data={
        "name": "other", "hosts": "x.dk", "storage_state": (io.BytesIO(state()), "state.json")})
    assert resp.status_code == 400, "no CSRF token, no import"

    # a leader gets 404 for the page, the form and the removal; nothing changes
    other = csrf_login(app, leader_email)
    own = TOKEN.search(other.get("/report").get_data(as_text=True)).group(1)  # the leader's own valid token
    assert other.get("/admin/profiles").status_code == 404
    assert other.post("/admin/profiles", content_type="multipart/form-data", data={
        "csrf_token": own, "name": "evil", "hosts": "evil.dk",
        "storage_state": (io.BytesIO(state()), "s.json")}).status_code == 404
    assert other.get("/admin/profiles/facebook-team/remove").status_code == 404
    assert other.post("/admin/profiles/facebook-team/remove", data={"csrf_token": own}).status_code == 404
    with rt.Session() as s:
        assert [p.name for p in s.execute(select(CaptureProfile)).scalars()] == ["facebook-team"]

    confirm = client.get("/admin/profiles/facebook-team/remove").get_data(as_text=True)
    assert "Fjern capture-profilen facebook-team?" in confirm
    resp = client.post("/admin/profiles/facebook-team/remove", data={"csrf_token": token})
    assert resp.status_code == 302
    assert "Profilen facebook-team er fjernet" in client.get("/admin/profiles").get_data(as_text=True)
    assert client.get("/admin/profiles/facebook-team/remove").status_code == 404
    with rt.Session() as s:
        assert s.execute(select(CaptureProfile)).first() is None
        events = list(s.execute(select(AuditEvent).where(AuditEvent.object_type == "capture_profile")).scalars())
    assert [e.action for e in events] == ["profile.import", "profile.remove"]
    assert all(e.actor_id is not None for e in events) and SECRET not in json.dumps([e.details for e in events])
