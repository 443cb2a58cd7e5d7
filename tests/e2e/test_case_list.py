"""The case list: a description excerpt cut at a word, the platform, the status with a filter, the next deadline
with its countdown, and a small picture of the post served through the permission-checked artifact route
(never live HTML) — through the Flask app and in a real browser at desktop and 390 px."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from sqlalchemy import select

from storage.models import AuditEvent, User
from tests.support.browser import assert_fits_the_width, assert_no_serious_axe_findings, each_viewport, log_in, open_browser, \
    screenshot, served
from tests.support.factories import csrf_login, make_case, make_done_evidence, make_settings, make_unit, \
    make_user, png_bytes
from tests.support.database import new_runtime
from capture.bundle import Artifact as BundleArtifact
from capture.bundle import EvidenceBundle
from tracker.cases import lifecycle
from webui.app import create_app

DESCRIPTION = ("Borgeren skriver på Facebook, at han ved hvor jeg bor, og han har lagt et billede af min "
               "hoveddør op med adressen. Flere har delt opslaget og skrevet grimme kommentarer under det.")


def wide_post_bundle() -> EvidenceBundle:
    arts = [BundleArtifact("screenshot_post.png", "screenshot_post", "image/png", png_bytes(1200, 700, (20, 90, 200))),
            BundleArtifact("screenshot_viewport.png", "screenshot_viewport", "image/png", png_bytes(1280, 900)),
            BundleArtifact("page.html", "html", "text/html", b"<html><script>alert(1)</script>Opslag</html>")]
    return EvidenceBundle.seal("ok", arts, {"schema": "vaern.manifest/1", "kind": "url"})


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("case-list")))
    now = datetime.now(timezone.utc)
    with rt.transaction() as s:
        unit, other = make_unit(s, "Jobcenter"), make_unit(s, "Borgerservice")
        employee = make_user(s, "employee", unit, name="Mette Jensen", email="mette@kommune.dk")
        leader = make_user(s, "leader", unit, name="Lone Leder", email="lone@kommune.dk")
        make_user(s, "leader", other, name="Bo Leder", email="bo@kommune.dk")
        case = make_case(s, employee, url="https://www.facebook.com/borger/posts/1", description=DESCRIPTION,
                         episode_at=now - timedelta(hours=50))
        closed = make_case(s, employee, url="https://example.org/gammel", description="En gammel sag", episode_at=None)
        lifecycle.close_case(s, closed, leader, "Afsluttet efter samtale")
        ids = {"case": case.id, "ref": case.ref, "closed": closed.ref, "leader": leader.id}
    ids["ev"] = make_done_evidence(rt, ids["case"], ids["leader"], bundle=wide_post_bundle())
    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    yield rt, app, ids
    rt.close()


def card(page: str, ref: str) -> str:
    at = page.index(f">{ref}<")
    start = page.rindex("<li", 0, at)
    return page[start:page.index("</li>", at)]


def test_the_list_shows_excerpt_platform_status_countdown_and_a_thumbnail_link(org):
    rt, app, ids = org
    page = csrf_login(app, "lone@kommune.dk").get("/").get_data(as_text=True)
    row = card(page, ids["ref"])
    assert "Borgeren skriver på Facebook, at han ved hvor jeg bor, og han har lagt et billede af min hoveddør op" in row
    assert "…" in row and "kommentarer under det" not in row  # cut at a word, marked
    excerpt = re.search(r'class="case-excerpt">([^<]*)<', row).group(1)
    assert excerpt.endswith("…") and excerpt[:-1].split()[-1] in DESCRIPTION.split()
    # the countdown's unit depends on the time of day (a leader's deadline at 16.00 may be minutes away)
    assert "Facebook" in row and "Åben" in row and "Snart" in row
    assert re.search(r"om \d+ (dage?|timer?|minutter?)", row), row
    thumb = re.search(r'<img src="(/cases/[^"]+\?thumb=1)"', row).group(1)
    assert f"/cases/{ids['ref']}/evidence/{ids['ev']}/screenshot_post.png" in thumb
    assert "<script" not in row
    closed = card(page, ids["closed"])
    assert "Lukket" in closed and "Intet billede endnu" in closed


def test_the_evidence_of_a_case_is_counted_per_state_not_repeated(org):
    rt, app, ids = org
    with rt.transaction() as s:
        employee = s.execute(select(User).where(User.email == "mette@kommune.dk")).scalar_one()
        ref, case_id = (c := make_case(s, employee, description="Tre opslag")).ref, c.id
    for n in range(3):
        make_done_evidence(rt, case_id, ids["leader"], url=f"https://example.org/opslag/{n}")
    row = card(csrf_login(app, "lone@kommune.dk").get("/").get_data(as_text=True), ref)
    assert '<span class="state state-done">sikret</span> (3), <span class="state state-queued">venter</span>' in row
    assert row.count(">sikret<") == 1  # not "sikret, sikret, sikret"


def test_the_status_filter_shows_open_or_closed_cases(org):
    rt, app, ids = org
    client = csrf_login(app, "lone@kommune.dk")
    open_page = client.get("/?status=open").get_data(as_text=True)
    assert ids["ref"] in open_page and ids["closed"] not in open_page
    closed_page = client.get("/?status=closed").get_data(as_text=True)
    assert ids["closed"] in closed_page and ids["ref"] not in closed_page
    every = client.get("/?status=nonsense").get_data(as_text=True)
    assert ids["closed"] in every and ids["ref"] in every


def test_the_thumbnail_is_a_small_png_through_the_checked_route_and_is_audited(org):
    rt, app, ids = org
    url = f"/cases/{ids['ref']}/evidence/{ids['ev']}/screenshot_post.png?thumb=1"
    resp = csrf_login(app, "lone@kommune.dk").get(url)
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    with Image.open(io.BytesIO(resp.data)) as img:
        assert img.width == 240 and img.height <= 240
    with rt.Session() as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "artifact.view")
                          .order_by(AuditEvent.id.desc())).scalars().first()
        assert event.details["thumbnail"] is True and event.details["name"] == "screenshot_post.png"
    assert csrf_login(app, "bo@kommune.dk").get(url).status_code == 404  # another unit's leader
    html = csrf_login(app, "lone@kommune.dk").get(f"/cases/{ids['ref']}/evidence/{ids['ev']}/page.html?thumb=1")
    assert html.status_code == 200 and html.mimetype == "application/octet-stream"  # never live HTML


@pytest.mark.browser
def test_the_case_list_in_a_browser_shows_the_pictures_passes_axe_and_fits_a_phone(org):
    from playwright.sync_api import expect

    rt, app, ids = org
    with served(app) as base, open_browser() as browser:
        for name, page in each_viewport(browser):
            log_in(page, base, "lone@kommune.dk")
            first = page.locator(".case-card").first
            expect(first).to_contain_text(ids["ref"])
            img = first.locator(".case-thumb img")
            expect(img).to_be_visible()
            page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=img.element_handle())
            assert img.evaluate("i => i.naturalWidth") == 240
            screenshot(page, f"case-list-{name}")
            assert_fits_the_width(page, name)
            assert_no_serious_axe_findings(page, name)
            page.get_by_label("Status").select_option("closed")
            page.get_by_role("button", name="Vis").click()
            expect(page.locator(".case-card")).to_have_count(1)
            expect(page.locator(".case-card")).to_contain_text(ids["closed"])
