"""Issue 18 in a real Chromium at phone size (390 px): the installable app (manifest, icons, service worker and
its offline page, which keeps no case data), the phone-first report form with a phone call, the iPhone help
page, the form filled from a shared link — each axe clean and no wider than the phone.
"""
from __future__ import annotations

import io
import json
import re
from urllib.parse import quote

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.support.browser import (PHONE, assert_fits_the_width, assert_no_serious_axe_findings, log_in, new_page,
                                   open_browser, screenshot, served)
from tests.support.flows import employee
from webui.app import create_app

pytestmark = pytest.mark.browser

CACHED = """async () => { const out = [];
  for (const name of await caches.keys()) { const c = await caches.open(name);
    for (const r of await c.keys()) out.push(new URL(r.url).pathname); }
  return out.sort(); }"""


def test_the_app_installs_with_its_manifest_and_a_service_worker_that_keeps_only_the_offline_page(make_runtime):
    rt = make_runtime()
    email = employee(rt)
    app = create_app(runtime=rt)
    with served(app) as base, open_browser() as browser:
        page = new_page(browser, **PHONE)
        try:
            log_in(page, base, email)
            href = page.locator("link[rel=manifest]").get_attribute("href")
            assert href == "/manifest.webmanifest"
            resp = page.request.get(base + href)
            assert resp.ok and resp.headers["content-type"].startswith("application/manifest+json")
            manifest = json.loads(resp.body())
            assert manifest["short_name"] == "Værn" and manifest["lang"] == "da"
            assert manifest["display"] == "standalone" and manifest["start_url"].startswith("/report")
            assert manifest["theme_color"] and manifest["background_color"]
            share = manifest["share_target"]
            assert (share["action"], share["method"], share["enctype"]) == ("/share", "POST", "multipart/form-data")
            assert share["params"]["text"] == "text" and share["params"]["files"][0]["name"] == "file"
            for icon in manifest["icons"]:
                png = page.request.get(base + icon["src"])
                assert png.ok
                with Image.open(io.BytesIO(png.body())) as img:
                    assert img.format == "PNG" and f"{img.width}x{img.height}" == icon["sizes"]
            assert {i["purpose"] for i in manifest["icons"]} == {"any", "maskable"}
            # the service worker: registered from every page, scope the whole app
            script = page.evaluate("navigator.serviceWorker.ready.then(r => r.active.scriptURL)")
            assert script == f"{base}/sw.js"
            page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=10_000)  # clients.claim()
            # a case, opened while the worker runs: nothing of it lands in the cache
            page.goto(f"{base}/report")
            page.get_by_label("Et telefonopkald").check()
            page.get_by_label("Hvad blev sagt eller gjort? Med dine egne ord").fill("Du skal passe på dig selv.")
            page.get_by_role("button", name="Sikr beviset").click()
            expect(page).to_have_url(re.compile(r".*/cases/V-\d{4}-\d{5}$"))
            cached = page.evaluate(CACHED)
            assert cached == sorted(["/offline", "/static/vaern.css", "/static/icons/icon-192.png"]), cached
            # without a connection: the offline page, saying a report needs one
            page.context.set_offline(True)
            page.goto(f"{base}/report")
            expect(page.get_by_role("heading", level=1)).to_have_text("Du har ingen forbindelse")
            expect(page.get_by_text("En anmeldelse kræver forbindelse til internettet")).to_be_visible()
            assert_fits_the_width(page, "offline")
            screenshot(page, "phone-offline")
            assert_no_serious_axe_findings(page, "offline page")
            page.context.set_offline(False)
            assert page.evaluate(CACHED) == cached  # still only the offline page and its files
        finally:
            page.context.close()


def test_a_phone_call_on_the_phone_form_with_the_quick_day_choices_and_the_help_page(make_runtime):
    rt = make_runtime()
    email = employee(rt)
    app = create_app(runtime=rt)
    with served(app) as base, open_browser() as browser:
        page = new_page(browser, **PHONE)
        try:
            log_in(page, base, email)
            page.goto(f"{base}/report")
            when = page.get_by_label("Hvornår blev det slået op, eller hvornår skete det?")
            now_value = when.input_value()
            assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d\.\d\d", now_value)  # now, by default
            assert page.locator("input[type=file][capture=environment]").count() == 1  # the camera button
            assert not page.locator("#statement-fields").is_visible()  # a URL report: no statement asked
            assert_fits_the_width(page, "report form")
            assert_no_serious_axe_findings(page, "report form at 390 px")
            screenshot(page, "phone-report-url")
            page.get_by_label("Et telefonopkald").check()
            expect(page.locator("#statement-fields")).to_be_visible()
            page.get_by_role("button", name="I går").click()
            yesterday = when.input_value()
            assert yesterday != now_value and yesterday[-5:] == now_value[-5:]  # the day before, same time
            page.get_by_label("Hvad blev sagt eller gjort? Med dine egne ord").fill("»Jeg ved, hvor du bor.«")
            page.get_by_label("Hvem gjorde det? (hvis du ved det)").fill("Mand fra nummer 12 34 56 78")
            page.get_by_label("Vidner (hvem så eller hørte det)").fill("Kollega Lise")
            assert_fits_the_width(page, "phone-call form")
            page.set_viewport_size({"width": 360, "height": 740})  # the smallest phones in use
            assert_fits_the_width(page, "phone-call form at 360 px")
            page.set_viewport_size(PHONE["viewport"])
            assert_no_serious_axe_findings(page, "phone-call form")
            screenshot(page, "phone-report-phone-call")
            box = page.get_by_role("button", name="Sikr beviset").bounding_box()
            assert box["height"] >= 44 and box["width"] >= 300  # a large target, the width of the phone
            page.get_by_role("button", name="Sikr beviset").click()
            expect(page).to_have_url(re.compile(r".*/cases/V-\d{4}-\d{5}$"))
            expect(page.get_by_role("heading", name=re.compile("Medarbejderens forklaring"))).to_be_visible()
            assert page.locator("#ladder").count() == 0
            assert_fits_the_width(page, "phone-call case")
            screenshot(page, "phone-case-phone-call")
            page.goto(f"{base}/help/phone")
            expect(page.get_by_role("heading", level=1)).to_have_text("Anmeld fra din telefon")
            code = page.get_by_label("Bogmærkets kode").input_value()
            assert code == f"javascript:location.href='{base}/share?url='+encodeURIComponent(location.href)"
            assert_fits_the_width(page, "help page")
            assert_no_serious_axe_findings(page, "/help/phone")
            screenshot(page, "phone-help")
            # what the bookmarklet or the Shortcut opens: the form, filled in, without tracking
            shared = "https://www.facebook.com/story.php?story_fbid=1&id=2&fbclid=abc&utm_source=x"
            page.goto(f"{base}/share?url={quote(shared, safe='')}")
            expect(page.get_by_label("Adresse (URL) på opslaget")).to_have_value(
                "https://www.facebook.com/story.php?story_fbid=1&id=2")
            assert_no_serious_axe_findings(page, "shared form")
            screenshot(page, "phone-report-shared")
        finally:
            page.context.close()
