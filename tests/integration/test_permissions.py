"""Who may see what, through the Flask app: every role of two units against every route of the skeleton.

A case you may not see is a 404 that looks exactly like a case that does not exist.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from storage.models import AuditEvent, Case, Evidence
from tests.support.factories import PASSWORD, make_bundle, make_case, make_done_evidence, make_settings, make_unit, make_user
from tests.support.database import new_runtime
from tracker.adapters.runtime import Runtime
from webui.app import create_app
from webui.timefmt import CPH

#: (key, role, unit) of the people in the test organisation; the case belongs to unit A's "employee-A"
PEOPLE = [
    ("employee-A", "employee", "A"), ("colleague-A", "employee", "A"), ("leader-A", "leader", "A"),
    ("hr-A", "hr", "A"), ("amr-A", "amr", "A"), ("admin-A", "admin", "A"),
    ("employee-B", "employee", "B"), ("leader-B", "leader", "B"), ("hr-B", "hr", "B"),
    ("amr-B", "amr", "B"), ("admin-B", "admin", "B"),
]
SEES_CASE = {"employee-A", "leader-A", "amr-A", "hr-A", "hr-B"}
CAN_REPORT = {"employee-A", "colleague-A", "leader-A", "amr-A", "employee-B", "leader-B", "amr-B"}


class Org:
    """The test organisation: runtime, app, people (key → (id, email)), the case and its evidence."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
        self.people: dict[str, tuple[int, str]] = {}
        with rt.transaction() as s:
            units = {"A": make_unit(s, "Jobcenter"), "B": make_unit(s, "Borgerservice")}
            for key, role, unit in PEOPLE:
                u = make_user(s, role, units[unit], email=f"{key.lower()}@kommune.dk", name=f"Person {key}")
                self.people[key] = (u.id, u.email)
            employee = s.get(type(u), self.people["employee-A"][0])
            case = make_case(s, employee, description="Trusler i kommentarfeltet")
            self.ref, self.case_id = case.ref, case.id
        self.evidence_id = make_done_evidence(rt, self.case_id, self.people["employee-A"][0])

    def client(self, key: str | None = None):
        c = self.app.test_client()
        if key is not None:
            resp = login(c, self.people[key][1])
            assert resp.status_code == 302, resp.get_data(as_text=True)
        return c

    def case_urls(self, ref: str | None = None, evidence_id: int | None = None) -> dict[str, str]:
        ref, ev = ref or self.ref, evidence_id or self.evidence_id
        base = f"/cases/{ref}/evidence/{ev}"
        return {"case": f"/cases/{ref}", "status": f"{base}/status.json",
                "screenshot": f"{base}/screenshot_viewport.png", "html": f"{base}/page.html",
                "mhtml": f"{base}/page.mhtml", "manifest": f"{base}/manifest.json", "text": f"{base}/text.txt"}


def login(client, email: str, password: str = PASSWORD, **kw):
    return client.post("/login", data={"email": email, "password": password}, **kw)


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("permissions")))
    yield Org(rt)
    rt.close()


def count(org: Org, model, *where) -> int:
    with org.rt.Session() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar()


def report_form(**overrides) -> dict[str, str]:
    return {"url": "https://www.facebook.com/groups/borgere/posts/123", "episode_at": "2026-11-20T14:05",
            "description": "Han skrev at han ved hvor jeg bor", **overrides}


# -- the route matrix -------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [p[0] for p in PEOPLE])
def test_each_role_of_each_unit_gets_exactly_its_access(org, key):
    client = org.client(key)
    sees = key in SEES_CASE

    home = client.get("/")
    assert home.status_code == 200
    assert (org.ref in home.get_data(as_text=True)) is sees

    for name, url in org.case_urls().items():
        resp = client.get(url)
        assert resp.status_code == (200 if sees else 404), f"{key} {name} {url}: {resp.status_code}"
        if not sees:
            assert org.ref not in resp.get_data(as_text=True)

    resp = client.get("/report")
    assert resp.status_code == (200 if key in CAN_REPORT else 404)
    cases_before = count(org, Case)
    resp = client.post("/report", data=report_form())
    if key in CAN_REPORT:
        assert resp.status_code == 302 and re.fullmatch(r"/cases/V-\d{4}-\d{5}", resp.headers["Location"])
        assert count(org, Case) == cases_before + 1
    else:
        assert resp.status_code == 404 and count(org, Case) == cases_before


def without_csrf(body: bytes) -> bytes:
    return re.sub(rb'name="csrf_token" value="[^"]*"', b'name="csrf_token" value=""', body)


def test_a_case_you_may_not_see_looks_like_a_case_that_does_not_exist(org):
    client = org.client("leader-B")
    hidden = {n: client.get(u) for n, u in org.case_urls().items()}
    missing = {n: client.get(u) for n, u in org.case_urls(ref="V-2099-99999").items()}
    for name in hidden:
        assert hidden[name].status_code == missing[name].status_code == 404
        # byte-identical except the logout form's CSRF token, which carries the second it was signed in
        assert without_csrf(hidden[name].get_data()) == without_csrf(missing[name].get_data())
    body = hidden["case"].get_data(as_text=True)
    assert "Siden findes ikke" in body and "du har ikke adgang" in body


def test_anonymous_visitors_are_sent_to_the_login_page(org):
    client = org.client()
    for url in ["/", "/report", *org.case_urls().values()]:
        resp = client.get(url)
        assert resp.status_code == 302, url
        assert resp.headers["Location"].startswith("/login?next=")
    resp = client.post("/report", data=report_form())
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    assert client.get("/login").status_code == 200


def test_another_employees_evidence_id_under_your_own_case_is_404(org):
    # the evidence id must belong to the case in the URL: no reading unit A's evidence through B's case
    client = org.client("employee-B")
    own = client.post("/report", data=report_form()).headers["Location"]
    assert client.get(own).status_code == 200
    for url in org.case_urls(ref=own.rsplit("/", 1)[1]).values():
        if "/evidence/" in url:
            assert client.get(url).status_code == 404, url


# -- artifact responses -------------------------------------------------------------------------------
def test_the_status_endpoint_reports_a_finished_capture(org):
    resp = org.client("employee-A").get(org.case_urls()["status"])
    assert resp.status_code == 200
    data = resp.get_json()
    assert (data["state"], data["capture_status"], data["finished"]) == ("done", "ok", True)
    assert re.fullmatch(r"[0-9a-f]{64}", data["fingerprint"])


def test_screenshots_are_shown_inline_and_every_view_is_audited(org):
    client = org.client("leader-A")
    urls = org.case_urls()
    before = count(org, AuditEvent, AuditEvent.action == "artifact.view")
    resp = client.get(urls["screenshot"])
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert resp.get_data().startswith(b"\x89PNG")
    assert resp.headers["Content-Disposition"].startswith("inline;")
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    client.get(urls["screenshot"])
    assert count(org, AuditEvent, AuditEvent.action == "artifact.view") == before + 2
    with org.rt.Session() as s:
        last = s.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    assert (last.actor_id, last.case_id, last.details["name"]) == (
        org.people["leader-A"][0], org.case_id, "screenshot_viewport.png")


@pytest.mark.parametrize("name", ["html", "mhtml", "manifest", "text"])
def test_html_and_other_files_are_downloads_never_live_pages(org, name):
    client = org.client("hr-B")
    before = count(org, AuditEvent, AuditEvent.action == "artifact.download")
    resp = client.get(org.case_urls()[name])
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert f'filename="{org.ref}-{org.evidence_id}-' in resp.headers["Content-Disposition"]
    csp = resp.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp
    assert count(org, AuditEvent, AuditEvent.action == "artifact.download") == before + 1


def test_viewing_a_case_is_audited(org):
    client = org.client("amr-A")
    before = count(org, AuditEvent, AuditEvent.action == "case.view", AuditEvent.case_id == org.case_id)
    assert client.get(f"/cases/{org.ref}").status_code == 200
    assert count(org, AuditEvent, AuditEvent.action == "case.view", AuditEvent.case_id == org.case_id) == before + 1


def test_a_damaged_blob_is_refused_and_recorded_not_served(org):
    ev_id = make_done_evidence(org.rt, org.case_id, org.people["employee-A"][0],
                               bundle=make_bundle(color=(1, 2, 3)))
    with org.rt.Session() as s:
        sha = next(a.sha256 for a in s.get(Evidence, ev_id).artifacts if a.name == "screenshot_viewport.png")
    path = org.rt.blobs.path_for(sha)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    resp = org.client("employee-A").get(org.case_urls(evidence_id=ev_id)["screenshot"])
    assert resp.status_code == 500
    assert "Noget gik galt" in resp.get_data(as_text=True) and b"PNG" not in resp.get_data()
    with org.rt.Session() as s:
        last = s.execute(select(AuditEvent).where(AuditEvent.action == "artifact.integrity_error")).scalar_one()
    assert sha in last.details["error"]


# -- logging in -----------------------------------------------------------------------------------
def alert_text(resp) -> str:
    m = re.search(r'<div class="alert" role="alert"[^>]*>(.*?)</div>', resp.get_data(as_text=True), re.S)
    return m.group(1).strip() if m else ""


def test_unknown_user_and_wrong_password_get_the_same_answer(org):
    unknown = login(org.client(), "ingen@kommune.dk")
    wrong = login(org.client(), org.people["leader-A"][1], PASSWORD + "!")
    assert unknown.status_code == wrong.status_code == 401
    assert alert_text(unknown) == alert_text(wrong) == "E-mail eller adgangskode er forkert."
    assert count(org, AuditEvent, AuditEvent.action == "auth.login_failed") >= 2


def test_login_only_redirects_within_vaern(org):
    for target, expected in [("/cases/" + org.ref, "/cases/" + org.ref), ("//evil.example/", "/"),
                             ("https://evil.example/", "/")]:
        resp = login(org.client(), org.people["hr-A"][1], query_string={"next": target})
        assert resp.status_code == 302 and resp.headers["Location"] == expected


def test_login_posts_are_limited_per_client_address_but_never_per_account(tmp_path):
    """The flood guard counts login POSTs per client address; wrong passwords for one e-mail from many
    addresses do not lock the real user out (growing delays: tests/integration/test_auth_hardening.py)."""
    rt = new_runtime(make_settings(tmp_path, login_rate_limit="3 per minute"))
    try:
        with rt.transaction() as s:
            email = make_user(s, "hr", email="hanne@kommune.dk").email
        app = create_app(runtime=rt)
        app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
        codes = [login(app.test_client(), email, "forkert-kode", environ_base={"REMOTE_ADDR": f"10.0.0.{i}"})
                 .status_code for i in range(4)]
        assert codes == [401, 401, 401, 401]
        resp = login(app.test_client(), email, environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert resp.status_code == 302  # the right password from the user's own address still works
        # per client address, with changing e-mails
        codes = [login(app.test_client(), f"gaet{i}@kommune.dk", "x" * 12,
                       environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code for i in range(4)]
        assert codes == [401, 401, 401, 429]
        assert "For mange forsøg" in login(app.test_client(), "a@b.dk", environ_base={"REMOTE_ADDR": "10.9.9.9"}
                                           ).get_data(as_text=True)
    finally:
        rt.close()


# -- CSRF -------------------------------------------------------------------------------------------
@pytest.fixture
def csrf_on(org):
    org.app.config["WTF_CSRF_ENABLED"] = True
    yield org
    org.app.config["WTF_CSRF_ENABLED"] = False


def test_a_post_without_the_csrf_token_is_rejected(csrf_on):
    org = csrf_on
    client = org.client()
    resp = login(client, org.people["employee-A"][1])
    assert resp.status_code == 400 and "Formularen er udløbet" in resp.get_data(as_text=True)

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"email": org.people["employee-A"][1], "password": PASSWORD,
                                       "csrf_token": token})
    assert resp.status_code == 302

    before = count(org, Case)
    resp = client.post("/report", data=report_form())
    assert resp.status_code == 400 and "Formularen er udløbet" in resp.get_data(as_text=True)
    assert count(org, Case) == before


# -- bad report input -----------------------------------------------------------------------------
def _in_two_days() -> str:
    return (datetime.now(CPH) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")


BAD_REPORTS = {
    "no URL": (dict(url=""), "Indsæt adressen (URL) på opslaget, eller vedhæft en fil."),
    "ftp URL": (dict(url="ftp://files.example.org/krænkelse.png"), "Adressen skal begynde med http:// eller https://."),
    "javascript URL": (dict(url="javascript:alert('hej')"), "Adressen skal begynde med http:// eller https://."),
    "3000-char URL": (dict(url="https://example.org/" + "ø" * 2980), "Adressen er for lang (højst 2048 tegn)."),
    "10000-char description": (dict(description="Æbler og øl. " * 770), "Teksten er for lang."),
    "future episode time": (dict(episode_at=_in_two_days()), "Tidspunktet ligger i fremtiden."),
    "garbage episode time": (dict(episode_at="i går ved 14-tiden"),
                             "Tidspunktet kunne ikke læses. Skriv dato og klokkeslæt, fx 26.11.2026 14.05."),
}


@pytest.mark.parametrize("case", list(BAD_REPORTS), ids=lambda c: c.replace(" ", "-"))
def test_bad_report_input_is_refused_in_danish_keeping_what_was_typed(org, case):
    overrides, message = BAD_REPORTS[case]
    form = report_form(**overrides)
    client = org.client("employee-A")
    rows = (count(org, Case), count(org, Evidence), count(org, AuditEvent))
    resp = client.post("/report", data=form)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert message in body
    assert "Ret de markerede felter. Intet er gemt endnu." in body
    assert 'aria-invalid="true"' in body
    for field in ("url", "episode_at"):
        if form[field]:
            assert f'value="{escape(form[field])}"' in body, field
    assert f">{escape(form['description'])}</textarea>" in body.replace("\r\n", "\n").replace(">\n", ">")
    assert (count(org, Case), count(org, Evidence), count(org, AuditEvent)) == rows
