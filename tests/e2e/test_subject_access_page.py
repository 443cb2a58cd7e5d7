"""HR's page for the right of access (GDPR art. 15, issue 16.4) in Chromium: HR picks a person, the job builds the
ZIP, HR downloads it (SHA-256 as shown and audited); employees and leaders get 404; axe clean on desktop and phone."""
from __future__ import annotations

import hashlib
import json
import zipfile

from sqlalchemy import select

from storage.models import AuditEvent, Role
from tests.support.browser import (DESKTOP, assert_fits_the_width, assert_no_serious_axe_findings, each_viewport,
                                   log_in, new_page, open_browser, screenshot, served)
from tests.support.database import new_runtime
from tests.support.factories import make_case, make_done_evidence, make_settings, make_unit, make_user, running_consumer
from tracker.wording import file_size
from webui.app import create_app


def test_hr_builds_and_downloads_an_employees_access_package_and_nobody_else_may(tmp_path):
    from playwright.sync_api import expect

    rt = new_runtime(make_settings(tmp_path / "data"))
    try:
        with rt.transaction() as s:
            unit = make_unit(s, "Jobcenter")
            mette = make_user(s, Role.employee, unit, email="mette@kommune.dk", name="Mette Jensen")
            leader = make_user(s, Role.leader, unit, name="Lone Leder", email="lone@kommune.dk")
            hr = make_user(s, Role.hr, name="Hanne HR", email="hanne@kommune.dk")
            case_id, mette_id, hr_id = make_case(s, mette).id, mette.id, hr.id
        make_done_evidence(rt, case_id, mette_id)
        app = create_app(runtime=rt)
        with served(app) as base, open_browser() as browser, running_consumer(rt.huey):
            page = new_page(browser, timeout_ms=30_000, accept_downloads=True, **DESKTOP)
            log_in(page, base, "hanne@kommune.dk")
            page.get_by_role("link", name="Indsigt", exact=True).click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Indsigt efter databeskyttelses\u00adforordningen art. 15")  # a soft hyphen for phones
            assert_no_serious_axe_findings(page, "the access page, empty")
            page.get_by_label("Person").select_option(label="Mette Jensen (mette@kommune.dk) · Medarbejder, Jobcenter")
            page.get_by_role("button", name="Dan indsigtspakken").press("Enter")
            expect(page.get_by_text("Værn danner indsigtspakken")).to_be_visible()
            link = page.get_by_role("link", name="Hent ZIP-filen")
            for _ in range(120):  # the job prints the PDF in Chromium: a few seconds
                if link.count():
                    break
                page.wait_for_timeout(1000)
                page.goto(f"{base}/hr/subject-access")
            expect(link).to_be_visible()
            assert_no_serious_axe_findings(page, "the access page with a ready package")
            screenshot(page, "subject-access-desktop")
            shown = page.locator(".subject-jobs code.hash").get_attribute("title")
            with page.expect_download() as info:
                link.click()
            saved = tmp_path / info.value.suggested_filename
            info.value.save_as(saved)
            assert saved.name.startswith(f"vaern-indsigt-bruger-{mette_id}-") and saved.suffix == ".zip"
            sha = hashlib.sha256(saved.read_bytes()).hexdigest()
            assert sha == shown
            with zipfile.ZipFile(saved) as z:
                doc = json.loads(z.read("subject.json"))
                assert "indsigt.pdf" in z.namelist()
            assert doc["subject"]["id"] == mette_id and len(doc["cases"]) == 1
            size, shown_size = saved.stat().st_size, page.locator(".subject-jobs data")
            assert shown_size.get_attribute("value") == str(size)  # the exact count stays with the ZIP's hash
            assert shown_size.get_attribute("title") == f"{size:,} byte".replace(",", ".")
            assert shown_size.inner_text() == file_size(size, "da")
            page.goto(f"{base}/hr/subject-access?lang=en")
            expect(page.get_by_role("heading", level=1)).to_have_text("Right of access (GDPR art. 15)")
            assert shown_size.inner_text() == file_size(size, "en") and shown_size.get_attribute("title") == f"{size:,} bytes"
            assert " kl. " not in page.locator("main").inner_text()
            screenshot(page, "subject-access-desktop-en")
            page.context.close()

            download_url = f"{base}/hr/subject-access/{_job_id(rt)}/download"
            for email in ("mette@kommune.dk", "lone@kommune.dk"):  # an employee and a leader: no such page
                other = new_page(browser, **DESKTOP)
                log_in(other, base, email)
                assert other.goto(f"{base}/hr/subject-access").status == 404
                assert other.goto(download_url).status == 404
                assert other.get_by_role("link", name="Indsigt", exact=True).count() == 0
                other.context.close()

            for name, phone in each_viewport(browser):
                if name != "phone":
                    continue
                log_in(phone, base, "hanne@kommune.dk")
                phone.goto(f"{base}/hr/subject-access")
                assert_no_serious_axe_findings(phone, "the access page on a phone")
                assert_fits_the_width(phone, name)
                screenshot(phone, "subject-access-phone")
        with rt.Session() as s:
            events = {e.action: e for e in s.execute(select(AuditEvent).where(
                AuditEvent.action.like("subject.%")).order_by(AuditEvent.id)).scalars()}
        requested, built, downloaded = (events["subject.export_requested"], events["subject.export_built"],
                                        events["subject.export_downloaded"])
        assert (requested.actor_id, requested.object_id) == (hr_id, str(mette_id))  # who exported whose data
        assert built.actor_id is None and built.details["sha256"] == sha
        assert (downloaded.actor_id, downloaded.details["sha256"], downloaded.details["job"]) == (hr_id, sha, requested.id)
        with rt.Session() as s:  # the case's own history says its content left in the package
            [handed] = s.execute(select(AuditEvent).where(AuditEvent.action == "case.subject_export")).scalars()
        assert (handed.case_id, handed.actor_id, handed.details["sha256"]) == (case_id, hr_id, sha)
    finally:
        rt.close()


def _job_id(rt) -> int:
    with rt.Session() as s:
        return s.execute(select(AuditEvent.id).where(AuditEvent.action == "subject.export_requested")).scalar_one()
