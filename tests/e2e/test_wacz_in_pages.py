"""Issue 14 on the pages: a WACZ through the report form (a changed one refused in Danish), the login-wall
guidance on the case page, and the ArchiveWeb.page how-to (axe clean, real browser).

Real parts: the Flask app over a real Runtime, the huey consumer running the upload job with the real
Chromium replay, py-wacz building the WACZ from a local platform's real answers.
"""
from __future__ import annotations

import html as html_lib
import io
import re

import pytest
from sqlalchemy import func, select

from storage.models import Case, Evidence, EvidenceState, Role
from tests.support.browser import assert_no_serious_axe_findings, log_in, new_page, open_browser, served
from tests.support.factories import make_bundle, make_case, make_done_evidence, make_unit, make_user, running_consumer, \
    evidence_row, wait_until
from tests.support.flows import employee, logged_in_client
from tests.support.wacz_fixture import POST_TEXT, Platform, altered, build_wacz, record_warc, sign_wacz
from webui.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def wacz(tmp_path_factory) -> bytes:
    site = Platform()
    try:
        return build_wacz(tmp_path_factory.mktemp("wacz"), record_warc(site), site.base + "/opslag/42")
    finally:
        site.close()


def post_report(client, data: bytes, name: str):
    return client.post("/report", data={"description": "Optaget i min egen browser",
                                        "upload": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_a_changed_wacz_is_refused_on_the_form_in_danish_naming_the_file(make_runtime, wacz):
    rt = make_runtime()
    client = logged_in_client(rt, employee(rt))
    resp = post_report(client, altered(wacz), "opslag.wacz")
    assert resp.status_code == 400
    page = html_lib.unescape(resp.get_data(as_text=True))
    assert re.search(r'<p class="error" id="upload-error">Filen archive/data\.warc\.gz i web-arkivet \(WACZ\) passer '
                     r'ikke med sit fingeraftryk', page), page
    with rt.Session() as s:
        assert s.execute(select(func.count()).select_from(Case)).scalar() == 0
        assert s.execute(select(func.count()).select_from(Evidence)).scalar() == 0


def test_a_signed_wacz_through_the_form_is_secured_with_its_replay_and_the_original(make_runtime, wacz):
    rt = make_runtime()
    client = logged_in_client(rt, employee(rt))
    form = client.get("/report").get_data(as_text=True)
    assert ".wacz" in re.search(r'<input[^>]+type="file"[^>]*>', form).group(0)
    assert 'href="/help/archiveweb"' in form
    signed, _ = sign_wacz(wacz)
    resp = post_report(client, signed, "opslag.wacz")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    ref = resp.headers["Location"].rsplit("/", 1)[1]
    with rt.Session() as s:
        [ev_id] = s.execute(select(Evidence.id).join(Case).where(Case.ref == ref)).scalars()
    with running_consumer(rt.huey, workers=1):
        ev = wait_until(lambda: (e := evidence_row(rt, ev_id)).state not in ("queued", "running") and e,
                        timeout=90, message="the WACZ job to finish")
    assert ev.state is EvidenceState.done, ev.error
    arts = {a.name: a for a in ev.artifacts}
    assert rt.blobs.read(arts["original.wacz"].sha256) == signed
    assert POST_TEXT in rt.blobs.read(arts["text.txt"].sha256).decode()
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    assert f"/cases/{ref}/evidence/{ev_id}/screenshot_post.png" in page  # the replayed post is what is shown
    assert "E-mailens tekst" not in page  # its text.txt is the replayed page's, not an e-mail's

    from tracker.packaging.reports import evidence_report_html

    with rt.Session() as session:
        report = html_lib.unescape(evidence_report_html(rt, session, session.get(Evidence, ev_id)))
    assert "Web-arkiv (WACZ)" in report
    assert "Signaturen er gyldig (anonym nøgle" in report and "Hvem der har nøglen, er ikke fastslået." in report
    assert "Ikke kontrolleret: at svarene i arkivet er dem, serverne sendte" in report
    assert "screenshot_post.png" in report and POST_TEXT in report  # the replay's pictures and the post's text


def test_a_login_wall_capture_tells_employee_and_leader_the_ways_forward(make_runtime):
    rt = make_runtime()
    with rt.transaction() as s:
        unit = make_unit(s)
        worker = make_user(s, Role.employee, unit)
        leader = make_user(s, Role.leader, unit)
        case = make_case(s, worker)
        case_id, ref, worker_email, leader_email, worker_id = case.id, case.ref, worker.email, leader.email, worker.id
    make_done_evidence(rt, case_id, worker_id, bundle=make_bundle("login_wall"))
    make_done_evidence(rt, case_id, worker_id, url="https://example.org/opslag/3", bundle=make_bundle("ok"))
    for email in (worker_email, leader_email):
        page = html_lib.unescape(logged_in_client(rt, email).get(f"/cases/{ref}").get_data(as_text=True))
        assert page.count("Opslaget ligger bag et login. Det kan du gøre:") == 1  # only for the login-wall capture
        assert "tag et foto af skærmen" in page
        assert "Bed administratoren om at oprette en profil" in page
        assert 'href="/help/archiveweb"' in page


def test_the_archiveweb_how_to_renders_in_danish_and_it_and_the_form_are_axe_clean(make_runtime):
    rt = make_runtime()
    email = employee(rt)
    app = create_app(runtime=rt)
    with served(app) as base, open_browser() as browser:
        page = new_page(browser)
        try:
            log_in(page, base, email)
            resp = page.goto(f"{base}/help/archiveweb")
            assert resp.status == 200
            assert page.get_by_role("heading", level=1).inner_text() == "Optag et opslag med ArchiveWeb.page"
            assert page.get_by_role("listitem").filter(has_text="hent det som en WACZ-fil").count() == 1
            assert_no_serious_axe_findings(page, "/help/archiveweb")
            page.goto(f"{base}/report")  # the form's new hint links here and stays accessible
            page.get_by_role("link", name="Sådan optager du med ArchiveWeb.page").click()
            assert page.url == f"{base}/help/archiveweb"
            page.go_back()
            assert_no_serious_axe_findings(page, "/report")
        finally:
            page.context.close()
