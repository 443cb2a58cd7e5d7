"""The record of processing page (GDPR art. 30, issue 16.5): the administrator reads it in Danish, downloads it as
PDF and Markdown; HR, leaders, AMR and employees get 404; the page fits a phone and has no serious axe finding."""
from __future__ import annotations

import io

from pypdf import PdfReader

from storage.models import Role
from tests.support.browser import assert_fits_the_width, assert_no_serious_axe_findings, each_viewport, log_in, \
    new_page, open_browser, screenshot, served
from tests.support.database import new_runtime
from tests.support.factories import make_settings, make_unit, make_user
from webui.app import create_app

URLS = ("/admin/processing-record", "/admin/processing-record.pdf", "/admin/processing-record.md")
HEADINGS = ("a. Dataansvarlig og databeskyttelsesrådgiver", "b. Formål med behandlingen",
            "c. Kategorier af registrerede og af personoplysninger", "d. Kategorier af modtagere",
            "e. Overførsel til tredjelande", "f. Tidsfrister for sletning",
            "g. Tekniske og organisatoriske sikkerhedsforanstaltninger")


def test_the_administrator_reads_and_downloads_the_record_and_no_one_else_reaches_it(tmp_path):
    rt = new_runtime(make_settings(tmp_path / "data", controller_name="Testrup Kommune",
                                   dpo_contact="Databeskyttelsesrådgiver, dpo@testrup.dk"))
    try:
        with rt.transaction() as s:
            unit = make_unit(s, "Jobcenter")
            admin = make_user(s, Role.admin, name="Ada Admin").email
            others = [make_user(s, Role.hr).email, make_user(s, Role.leader, unit).email,
                      make_user(s, Role.amr, unit).email, make_user(s, Role.employee, unit).email]
        app = create_app(runtime=rt)
        with served(app) as base, open_browser() as browser:
            for name, page in each_viewport(browser):
                log_in(page, base, admin)
                page.goto(f"{base}/admin")
                page.get_by_role("link", name="Fortegnelse over behandlingsaktiviteter").first.click()
                page.wait_for_url(f"{base}/admin/processing-record")
                assert page.get_by_role("heading", level=1).inner_text() == "Fortegnelse over behandlingsaktiviteter"
                article = page.locator("article.processing-record")
                assert article.get_attribute("lang") == "da"
                for heading in HEADINGS:
                    assert page.get_by_role("heading", name=heading).count() == 1, heading
                text = article.inner_text()
                assert "Testrup Kommune" in text and "dpo@testrup.dk" in text
                assert "Lukkede sager slettes 5 år efter lukning" in text and "Ikke kontrolleret" in text
                assert "Skal bekræftes af kommunen" in text and "afhænger af platformen" in text
                assert_no_serious_axe_findings(page, f"record of processing ({name})")
                assert_fits_the_width(page, name)
                screenshot(page, f"processing-record-{name}")
                screenshot(page, f"processing-record-{name}-top", full_page=False)
                if name != "desktop":
                    continue
                with page.expect_download() as md_download:
                    page.get_by_role("link", name="Hent som Markdown").click()
                markdown = md_download.value.path().read_text(encoding="utf-8")
                assert md_download.value.suggested_filename.endswith(".md")
                assert markdown.startswith("# Fortegnelse over behandlingsaktiviteter")
                assert all(f"## {h}" in markdown for h in HEADINGS)
                with page.expect_download(timeout=90_000) as pdf_download:
                    page.get_by_role("link", name="Hent som PDF").click()
                pdf = PdfReader(io.BytesIO(pdf_download.value.path().read_bytes()))
                pdf_text = " ".join(" ".join(p.extract_text().split()) for p in pdf.pages)
                assert all(h in pdf_text for h in HEADINGS), pdf_text[:500]
                assert "Testrup Kommune" in pdf_text
            for email in others:
                page = new_page(browser)
                log_in(page, base, email)
                for url in URLS:
                    assert page.request.get(f"{base}{url}").status == 404, (email, url)
                assert page.goto(f"{base}/admin/processing-record").status == 404
                page.context.close()
    finally:
        rt.close()


def test_in_english_on_a_phone_the_record_says_it_is_danish_and_lists_what_to_confirm_by_section(tmp_path):
    """The English page tells the reader the record itself is Danish; the section list links each section and its
    counts of statements to confirm add up to the total. It fits 390 px and has no serious axe finding."""
    rt = new_runtime(make_settings(tmp_path / "data", controller_name="Testrup Kommune"))
    try:
        with rt.transaction() as s:
            admin = make_user(s, Role.admin, name="Ada Admin").email
        app = create_app(runtime=rt)
        with served(app) as base, open_browser() as browser:
            for name, page in each_viewport(browser):
                log_in(page, base, admin, lang="en")
                page.goto(f"{base}/admin/processing-record")
                assert "The record below is in Danish" in page.locator("#record-language").inner_text()
                toc = page.get_by_role("navigation", name="Sections of the record")
                assert [a.get_attribute("href") for a in toc.get_by_role("link").all()] == [
                    f"#record-{letter}" for letter in "abcdefg"]
                confirms = [int(t.split()[1]) for t in toc.locator(".hint").all_inner_texts()]
                total = page.locator(".record-confirm").count()
                assert total and sum(confirms) == total, (confirms, total)
                assert f"{total} statements must be confirmed" in page.locator("main").inner_text()
                toc.get_by_role("link", name=HEADINGS[6]).click()
                assert page.url.endswith("#record-g")
                assert_no_serious_axe_findings(page, f"record of processing in English ({name})")
                assert_fits_the_width(page, f"record of processing in English {name}")
                screenshot(page, f"processing-record-en-{name}-top", full_page=False)
    finally:
        rt.close()
