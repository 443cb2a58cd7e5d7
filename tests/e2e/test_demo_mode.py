"""`vaern demo`'s mode: the demo post counts as Facebook, notifications go through the real SMTP code to the
demo's own aiosmtpd server and show on /demo/mail; a real install without mail settings says so."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from storage.models import Case
from tests.support.factories import csrf_login
from tracker.adapters import notify
from tracker.adapters.demo import DEMO_PASSWORD, DemoMode, ensure_demo_org, start_demo_site
from tracker.adapters.demo_mail import start_demo_mail
from tracker.workflow.platforms import platform_for_url, shipped_directory
from webui.app import create_app

EMPLOYEE, LEADER, ADMIN = "medarbejder@demo.vaern.dk", "leder@demo.vaern.dk", "admin@demo.vaern.dk"
TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


@pytest.fixture
def demo(make_runtime):
    site, mail = start_demo_site(port=None), start_demo_mail(port=None)
    mode = DemoMode(site, mail)
    rt = make_runtime(capture_allowed_hosts=site.allowed_hosts, smtp_host=mail.host, smtp_port=mail.port,
                      base_url="http://127.0.0.1:5000")
    with rt.transaction() as s:
        ensure_demo_org(s)
    app = create_app(runtime=rt, demo=mode)
    yield app, rt, mode
    mode.stop()


def _report(client, url: str) -> str:
    token = TOKEN.search(client.get("/report").get_data(as_text=True)).group(1)
    resp = client.post("/report", data={"csrf_token": token, "url": url, "description": "Trusler mod mig i gruppen"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return resp.headers["Location"].rsplit("/", 1)[-1]


def test_the_demo_post_is_classified_as_facebook_only_in_demo_mode(demo):
    app, rt, mode = demo
    assert platform_for_url(mode.site.post_url, shipped_directory()).fallback  # a real install: any other site
    assert platform_for_url(mode.site.post_url, rt.platforms).id == "facebook"
    assert ("127.0.0.1", mode.site.port) in rt.settings.capture_options("x").allowed_hosts  # exact pairs, as before
    ref = _report(csrf_login(app, EMPLOYEE, DEMO_PASSWORD), mode.site.post_url)
    with rt.Session() as s:
        assert s.execute(select(Case.platform).where(Case.ref == ref)).scalar_one() == "facebook"
    page = csrf_login(app, LEADER, DEMO_PASSWORD).get(f"/cases/{ref}").get_data(as_text=True)
    shown = re.sub(r"<option[^>]*>[^<]*</option>", "", page)  # the pick-lists name every platform
    assert "Facebook" in shown and "Anden hjemmeside eller hostingfirma" not in shown


def test_a_new_case_mail_goes_through_the_demo_smtp_server_and_shows_on_the_mail_page(demo):
    app, rt, mode = demo
    leader = csrf_login(app, LEADER, DEMO_PASSWORD)
    empty = leader.get("/demo/mail").get_data(as_text=True)
    assert "Ingen e-mails endnu" in empty
    ref = _report(csrf_login(app, EMPLOYEE, DEMO_PASSWORD), mode.site.post_url)
    with rt.Session() as s:
        case_id = s.execute(select(Case.id).where(Case.ref == ref)).scalar_one()
    assert notify.case_opened(rt, case_id) == 1  # the real send: smtplib → aiosmtpd in this process
    (mail,) = mode.mail.mailbox.mails()
    assert mail.recipients == (LEADER,) and ref in mail.subject
    page = leader.get("/demo/mail")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"Værn: Ny sag {ref}" in html and LEADER in html and f"/cases/{ref}" in html
    assert 'id="demo-mail-notice"' in html and 'id="mail-off-notice"' not in html
    assert csrf_login(app, EMPLOYEE, DEMO_PASSWORD).get("/demo/mail").status_code == 200  # a demo: everyone may look
    assert app.test_client().get("/demo/mail").status_code == 302  # signed in first


def test_a_real_install_without_mail_shows_leaders_and_admins_a_banner_and_has_no_mail_page(make_runtime):
    rt = make_runtime()  # no smtp_host
    with rt.transaction() as s:
        ensure_demo_org(s)
    app = create_app(runtime=rt)
    for email in (LEADER, ADMIN):
        client = csrf_login(app, email, DEMO_PASSWORD)
        html = client.get("/").get_data(as_text=True)
        assert 'id="mail-off-notice"' in html and "E-mail-beskeder er slået fra" in html, email
        assert ("VAERN_SMTP_HOST" in html) == (email == ADMIN)  # the admin is told which setting turns them on
        assert client.get("/demo/mail").status_code == 404
    employee = csrf_login(app, EMPLOYEE, DEMO_PASSWORD).get("/").get_data(as_text=True)
    assert 'id="mail-off-notice"' not in employee


def test_a_real_install_with_mail_shows_no_banner(make_runtime):
    rt = make_runtime(smtp_host="127.0.0.1", smtp_port=2525)
    with rt.transaction() as s:
        ensure_demo_org(s)
    html = csrf_login(create_app(runtime=rt), LEADER, DEMO_PASSWORD).get("/").get_data(as_text=True)
    assert 'id="mail-off-notice"' not in html and 'id="demo-mail-notice"' not in html


@pytest.mark.browser
def test_the_demo_mail_page_and_the_mail_off_banner_in_a_browser_pass_axe_and_fit_a_phone(demo, make_runtime):
    from tests.support.browser import (assert_fits_the_width, assert_no_serious_axe_findings, each_viewport, log_in,
                               open_browser, screenshot, served)

    app, rt, mode = demo
    ref = _report(csrf_login(app, EMPLOYEE, DEMO_PASSWORD), mode.site.post_url)
    with rt.Session() as s:
        notify.case_opened(rt, s.execute(select(Case.id).where(Case.ref == ref)).scalar_one())
    real = create_app(runtime=make_runtime())  # a real install without mail settings
    with served(app) as base, open_browser() as browser:
        for name, page in each_viewport(browser):
            log_in(page, base, LEADER, password=DEMO_PASSWORD)
            page.goto(base + "/demo/mail")
            assert f"Ny sag {ref}" in page.content()
            screenshot(page, f"demo-mail-{name}")
            assert_fits_the_width(page, ("demo mail", name))
            assert_no_serious_axe_findings(page, f"demo mail {name}")
    rt_real = real.extensions["vaern"]
    with rt_real.transaction() as s:
        ensure_demo_org(s)
    with served(real) as base, open_browser() as browser:
        for name, page in each_viewport(browser):
            log_in(page, base, LEADER, password=DEMO_PASSWORD)
            assert page.locator("#mail-off-notice").is_visible()
            screenshot(page, f"mail-off-banner-{name}", full_page=False)
            assert_fits_the_width(page, ("mail off", name))
            assert_no_serious_axe_findings(page, f"mail off {name}")


def test_the_demo_org_has_two_units_one_user_per_role_and_is_created_once(make_runtime):
    from tracker.adapters.demo import DEMO_USERS

    rt = make_runtime()
    with rt.transaction() as s:
        first = ensure_demo_org(s)
    with rt.transaction() as s:
        assert ensure_demo_org(s) == first  # a restart adds nothing
    assert {role for _email, role, _unit in first} == {"employee", "leader", "amr", "hr", "admin"}
    assert {unit for *_rest, unit in first} == {"Jobcenter", "Borgerservice", "—"}
    assert len(first) == len(DEMO_USERS)
    app = create_app(runtime=rt)
    for email, *_rest in DEMO_USERS:
        csrf_login(app, email, DEMO_PASSWORD)  # every demo login works with the printed password
