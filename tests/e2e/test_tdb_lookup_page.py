"""The Transparency Database lookup in Chromium (issue 17.4): on a refused platform notice the leader types
the content's PUID, the fake database (127.0.0.1) finds the statement, and the page says so and lists the
attached statement — at laptop and phone size, axe clean, no sideways scroll."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import User
from storage.types import utcnow
from tests.support.browser import assert_fits_the_width, assert_no_serious_axe_findings, log_in, new_page, \
    open_browser, screenshot, served
from tests.support.factories import make_case, make_settings, make_unit, make_user
from tests.support.tdb import API_TOKEN, STATEMENT, running_tdb
from tracker.adapters.runtime import Runtime
from tracker.workflow import steps
from tracker.workflow.rules import load_rules
from webui.app import create_app

LAPTOP = {"viewport": {"width": 1366, "height": 768}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with running_tdb() as tdb_url:
        rt = Runtime.from_settings(make_settings(tmp_path_factory.mktemp("tdb-page"), dsa_tdb_url=tdb_url,
                                                 dsa_tdb_token=API_TOKEN, dsa_tdb_timeout=2))
        app = create_app(runtime=rt)
        with rt.transaction() as s:
            unit = make_unit(s, "Jobcenter Nord")
            employee = make_user(s, "employee", unit, name="Mette Jensen")
            leader = make_user(s, "leader", unit, name="Lone Leder")
            case = make_case(s, employee, url="https://www.facebook.com/groups/borgere/posts/9")
            sent = utcnow() - timedelta(days=4)
            steps.record_rung(s, case, "platform_notice", s.get(User, leader.id), sent, "DSA-formular", "FB-9",
                              "refused", None, rules=load_rules(), decided_at=sent + timedelta(days=1))
            refs = (case.ref, leader.email)
        yield rt, app, refs
        rt.close()


def test_the_leader_looks_up_the_statement_of_reasons_and_sees_it_attached(site):
    from playwright.sync_api import expect

    rt, app, (ref, leader) = site
    with served(app) as base, open_browser() as browser:
        for size, options in (("laptop", LAPTOP), ("phone", PHONE)):
            page = new_page(browser, **options)
            try:
                log_in(page, base, leader)
                page.goto(f"{base}/cases/{ref}#step-platform_notice")
                form = page.locator("#tdb-lookup")
                if size == "laptop":
                    form.get_by_label("Indholdets id hos platformen (PUID)").fill("post-777")
                    form.get_by_role("button", name="Slå begrundelsen op").click()
                    expect(page.get_by_text(f"har en begrundelse for dette indhold ({STATEMENT['uuid']})")).to_be_visible()
                    expect(page.locator("#step-platform_notice")).to_contain_text(f"dsa-tdb-{STATEMENT['uuid']}.json")
                screenshot(page.locator("#step-platform_notice"), f"tdb-lookup-{size}")
                assert_fits_the_width(page, size)
                assert_no_serious_axe_findings(page, f"tdb lookup {size}")
            finally:
                page.context.close()
