"""Downloading the evidence report, the case report and the case package from the case page: the same
permission as viewing the case (404 otherwise, nothing logged), every download an audit event with the
file's SHA-256; and the buttons in a real browser (axe, screenshot)."""
from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from sqlalchemy import select

from capture.timestamp import request_timestamp
from storage.models import AuditEvent, Role
from tests.support.browser import DESKTOP, assert_no_serious_axe_findings, log_in, new_page, open_browser, screenshot, served
from tests.support.factories import csrf_login, make_bundle, make_case, make_done_evidence, \
    make_settings, make_unit, make_user, running_consumer, wait_until
from tests.support.tsa import LocalTSA
from tests.support.database import new_runtime
from tracker.packaging.package import verify_package
from tracker.adapters.runtime import Runtime
from webui.app import create_app

DOWNLOADS = ("report.download", "package.export")


class Org:
    """Unit A: employee (whose case it is), leader, AMR; unit B: a leader; a second case in unit B."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True)
        with rt.transaction() as s:
            a, b = make_unit(s, "Jobcenter"), make_unit(s, "Borgerservice")
            people = {"employee": make_user(s, Role.employee, a, name="Mette Jensen"),
                      "leader": make_user(s, Role.leader, a, name="Lone Leder"),
                      "colleague": make_user(s, Role.employee, a), "leader-b": make_user(s, Role.leader, b),
                      "employee-b": make_user(s, Role.employee, b), "admin": make_user(s, Role.admin, a)}
            self.people = {k: (u.id, u.email) for k, u in people.items()}
            case = make_case(s, people["employee"], description="Trusler i kommentarfeltet")
            other = make_case(s, people["employee-b"])
            self.ref, self.case_id, self.other_case_id = case.ref, case.id, other.id
        bundle = make_bundle()
        bundle.timestamp = request_timestamp(bundle.manifest_bytes, rt.capture_options)
        self.evidence_id = make_done_evidence(rt, self.case_id, self.people["employee"][0], bundle=bundle)
        self.other_evidence_id = make_done_evidence(rt, self.other_case_id, self.people["employee-b"][0])

    def client(self, key: str):
        return csrf_login(self.app, self.people[key][1])

    def urls(self, evidence_id: int | None = None) -> dict[str, str]:
        return {"evidence": f"/cases/{self.ref}/evidence/{evidence_id or self.evidence_id}/report.pdf",
                "case": f"/cases/{self.ref}/report.pdf", "package": f"/cases/{self.ref}/package.zip"}

    def downloads(self) -> list[AuditEvent]:
        with self.rt.Session() as s:
            return list(s.execute(select(AuditEvent).where(AuditEvent.action.in_(DOWNLOADS))
                                  .order_by(AuditEvent.id)).scalars())


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export-pages")
    with LocalTSA(tmp) as tsa:
        rt = new_runtime(make_settings(tmp / "data", tsa_url=tsa.url, tsa_ca_file=tsa.ca_file))
        o = Org(rt)
        with running_consumer(rt.huey):  # the job queue builds the files, as in `vaern serve`
            yield o
        rt.close()


def fetch(client, url: str):
    """Follow an old download URL the way a person does: it starts the job and shows its progress page;
    once the job is done, the same URL hands out the file."""
    resp = client.get(url)
    assert resp.status_code == 303, resp.status_code
    status_page = resp.headers["Location"]
    assert client.get(status_page).status_code == 200
    wait_until(lambda: client.get(f"{status_page}/status.json").get_json()["finished"], timeout=120,
               message="the export job")
    return client.get(url, buffered=True)


@pytest.mark.parametrize("key", ["leader-b", "colleague", "employee-b", "admin"])
def test_someone_who_may_not_view_the_case_gets_404_and_nothing_is_logged(org, key):
    client = org.client(key)
    before = len(org.downloads())
    for name, url in org.urls().items():
        assert client.get(url).status_code == 404, (key, name)
    assert len(org.downloads()) == before


def test_a_report_of_evidence_from_another_case_is_404_even_for_the_leader(org):
    client = org.client("leader")
    before = len(org.downloads())
    assert client.get(org.urls(org.other_evidence_id)["evidence"]).status_code == 404
    assert client.get("/cases/V-1999-00001/report.pdf").status_code == 404
    assert len(org.downloads()) == before


def test_logged_out_downloads_go_to_the_login_page(org):
    for url in org.urls().values():
        resp = org.app.test_client().get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize("which, media_type, filename", [
    ("evidence", "application/pdf", "{ref}-bevis-{ev}-rapport.pdf"),
    ("case", "application/pdf", "{ref}-sagsrapport.pdf"),
    ("package", "application/zip", "{ref}-sagspakke.zip"),
])
def test_the_leaders_download_is_an_attachment_and_an_audit_event_with_its_sha256(org, which, media_type, filename):
    client = org.client("leader")
    before = len(org.downloads())
    resp = fetch(client, org.urls()[which])
    assert resp.status_code == 200 and resp.mimetype == media_type
    name = filename.format(ref=org.ref, ev=org.evidence_id)
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    sha = hashlib.sha256(resp.data).hexdigest()
    assert resp.headers["X-Evidence-SHA256"] == sha
    [event] = org.downloads()[before:]
    assert event.actor_id == org.people["leader"][0] and event.case_id == org.case_id
    assert event.details["sha256"] == sha and event.details["size"] == len(resp.data)
    if which == "package":
        assert event.action == "package.export" and event.details["via"] == "web"
        assert int(resp.headers["Content-Length"]) == len(resp.data)
        with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
            assert f"evidence/{org.evidence_id}/manifest.tsr" in z.namelist()
        exports = org.rt.settings.data_dir / "exports"
        assert not [p for p in exports.iterdir() if ".part" in p.name]  # no half-built package left
    else:
        assert event.action == "report.download" and resp.data.startswith(b"%PDF")
        assert event.details["report"] == which


def test_the_package_downloaded_from_the_page_verifies(org, tmp_path):
    resp = fetch(org.client("employee"), org.urls()["package"])  # the employee sees her own case
    assert resp.status_code == 200
    (tmp_path / "pakke.zip").write_bytes(resp.data)
    result = verify_package(tmp_path / "pakke.zip")
    assert result.ok and result.timestamps == 1, [p.line() for p in result.problems]


def test_the_case_page_links_each_download(org):
    html = org.client("leader").get(f"/cases/{org.ref}").get_data(as_text=True)
    for url in org.urls().values():
        assert f'href="{url}"' in html
    assert "Hent bevisrapport (PDF)" in html or "Download evidence report (PDF)" in html


@pytest.mark.browser
def test_the_download_buttons_in_a_browser_pass_axe_and_download_the_package(org, tmp_path):
    from playwright.sync_api import expect

    with served(org.app) as base, open_browser() as browser:
        page = new_page(browser, timeout_ms=30_000, accept_downloads=True, **DESKTOP)
        log_in(page, base, org.people["leader"][1])
        page.goto(f"{base}/cases/{org.ref}")
        package = page.locator(".case-downloads").get_by_role("link", name="(ZIP)")
        expect(page.locator(".case-downloads").get_by_role("link", name="(PDF)")).to_be_visible()
        expect(page.locator(f"#evidence-{org.evidence_id} .evidence-download a")).to_be_visible()
        screenshot(page, "export-case-top", full_page=False)
        screenshot(page.locator(f"#evidence-{org.evidence_id}"), "export-evidence")
        assert_no_serious_axe_findings(page, "the case page")
        package.click()  # the package is built by a job; its page follows the progress by itself
        expect(page.locator(".export-job .state")).to_have_text("klar", timeout=120_000, ignore_case=True)
        assert_no_serious_axe_findings(page, "the page of a package being prepared")
        with page.expect_download() as info:
            page.locator(".export-job").get_by_role("link", name="(ZIP)").click()
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        assert saved.name == f"{org.ref}-sagspakke.zip"
        assert verify_package(saved).ok
        page.context.close()
