"""The capture engine against fixture pages that imitate real posts (real Chromium, real proxy, real HTTP)."""
from __future__ import annotations

import gzip
import hashlib
import io
import re
import threading
from dataclasses import replace

import pytest
from warcio.archiveiterator import ArchiveIterator

from capture.bundle import canonical_json, sha256_hex
from capture.errors import CaptureRefused
from capture.hashing import normalise_text
from capture.browser import major
from tests.support.engine_helpers import count_colour, near, png
from tests.support.environment import chromium_major, chromium_version

pytestmark = pytest.mark.browser

MAGENTA = (255, 0, 255)  #: the consent box's top border in facebook_post.html
X_BLUE = (29, 155, 240)  #: the login banner in x_login.html


def actions(bundle, step=None):
    return [a for a in bundle.manifest["actions"] if step is None or a["step"] == step]


def test_a_facebook_post_behind_a_consent_dialog_is_captured_after_rejecting_optional_cookies(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/facebook_post.html"), operator="sagsbehandler@kommune.dk")

    assert bundle.status == "consent_dismissed"
    clicks = actions(bundle, "consent")
    assert len(clicks) == 1 and "Afvis valgfrie cookies" in clicks[0]["detail"]
    steps = [a["step"] for a in bundle.manifest["actions"]]
    assert steps.index("walls") < steps.index("consent"), "the wall is photographed before the click"
    assert count_colour(png(bundle.artifact("screenshot_wall").data), MAGENTA) > 50
    assert count_colour(png(bundle.artifact("screenshot_full").data), MAGENTA) == 0
    post = bundle.manifest["post"]
    assert post["id"] == "10234567890123456"
    assert post["author_handle"] == "kommune.kritiker"
    assert "Ærøskøbing" in post["text_excerpt"] and "😡" in post["text_excerpt"]
    assert bundle.manifest["perceptual_hashes"]["basis"] == "screenshot_post"
    assert re.fullmatch(r"[0-9a-f]{16}", bundle.manifest["perceptual_hashes"]["phash"])
    assert re.fullmatch(r"[0-9a-f]{16}", bundle.manifest["perceptual_hashes"]["dhash"])
    assert bundle.manifest["meta"]["og:title"] == "Kommune Kritiker"
    assert bundle.manifest["meta"]["article:published_time"] == "2026-11-20T08:15:00+01:00"
    post_png = png(bundle.artifact("screenshot_post").data)
    assert post_png.size == (600, 354) or post_png.size[0] == 600


def test_a_onetrust_banner_is_dismissed_with_its_reject_all_button(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/onetrust_article.html"), operator="tester")

    assert bundle.status == "consent_dismissed"
    (click,) = actions(bundle, "consent")
    assert "#onetrust-reject-all-handler" in click["detail"] and "'Afvis alle'" in click["detail"]
    assert "onetrust" in click["detail"]
    assert count_colour(png(bundle.artifact("screenshot_wall").data), (0, 80, 40)) > 50
    assert count_colour(png(bundle.artifact("screenshot_full").data), (0, 80, 40)) == 0
    assert bundle.manifest["post"]["author_handle"] == "jens-hansen"


def test_an_x_post_behind_a_login_wall_is_marked_login_wall_and_the_wall_is_photographed(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/x_login.html"), operator="tester")

    assert bundle.status == "login_wall"
    assert count_colour(png(bundle.artifact("screenshot_wall").data), X_BLUE) > 50
    assert bundle.artifact("screenshot_post") is not None, "the post behind the wall is still captured"
    assert bundle.manifest["post"]["author_handle"] == "kommunehader"
    assert any("Log ind på X" in n for n in bundle.manifest["notes"])
    assert not actions(bundle, "consent"), "nothing is clicked on a login wall"


def test_lazy_loaded_images_are_in_the_full_page_screenshot(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/lazy.html"), operator="tester")

    assert bundle.status == "ok"
    full = png(bundle.artifact("screenshot_full").data)
    assert count_colour(full, (220, 20, 60)) > 100, "loading=lazy image (red) missing"
    assert count_colour(full, (34, 139, 34)) > 100, "IntersectionObserver image (green) missing"
    assert actions(bundle, "scroll")


def test_a_windows_1252_page_gives_utf8_text_with_danish_letters(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/cp1252_letter.html"), operator="tester")

    assert bundle.status == "ok"
    text = bundle.artifact("text").data.decode("utf-8")
    assert "Æbleskiver, rødgrød med fløde og «citater» koster nu 5 € på Østerbro" in text
    assert "Læserbrev fra Østerbro" in bundle.artifact("html").data.decode("utf-8")
    assert bundle.manifest["title"] == "Læserbrev fra Østerbro"
    expected_post = "Læserbrev: Åbenlys chikane på rådhuset\n\nÆbleskiver, rødgrød med fløde og «citater» koster " \
                    "nu 5 € på Østerbro – og sagsbehandleren Søren Ærø er skyld i det hele."
    assert bundle.manifest["text_sha256"] == hashlib.sha256(normalise_text(expected_post).encode()).hexdigest()


def test_alert_confirm_and_prompt_dialogs_are_dismissed_and_logged(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/dialogs.html"), operator="tester")

    assert bundle.status == "ok"
    details = [a["detail"] for a in actions(bundle, "dialog")]
    assert [d.split(" ", 1)[0] for d in details] == ["alert", "confirm", "prompt"]
    assert "kære læser" in details[0]


def test_an_automatic_download_is_refused_and_logged(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/download.html"), operator="tester")

    assert bundle.status == "ok"
    (entry,) = actions(bundle, "download")
    assert "refused download" in entry["detail"] and "rapport.pdf" in entry["detail"]
    assert all(a.media_type != "application/pdf" for a in bundle.artifacts)


def test_a_pop_up_window_is_closed_and_logged(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/popups.html"), operator="tester")

    assert bundle.status == "ok"
    (entry,) = actions(bundle, "popup")
    assert "/popup_target.html" in entry["detail"]
    assert "Tillykke" not in bundle.artifact("text").data.decode("utf-8")


def test_a_404_removal_page_is_not_found(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/removed"), operator="tester")

    assert bundle.status == "not_found"
    assert bundle.manifest["http"]["status"] == 404
    assert "Dette indhold er ikke tilgængeligt" in bundle.artifact("text").data.decode("utf-8")
    assert bundle.artifact("screenshot_full") is not None


def test_a_platform_tombstone_text_on_a_200_page_is_not_found(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/tombstone.html"), operator="tester")

    assert bundle.status == "not_found"
    assert bundle.manifest["http"]["status"] == 200
    assert any("This content isn't available right now" in n for n in bundle.manifest["notes"])


def test_a_server_error_page_is_a_failed_capture_that_keeps_the_error_page(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/error500"), operator="tester")

    assert bundle.status == "failed"
    assert "the server answered HTTP 500" in bundle.manifest["notes"]
    assert "Der opstod en fejl" in bundle.artifact("text").data.decode("utf-8")


def test_a_redirect_to_a_private_address_is_blocked_by_policy(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/redirect-private"), operator="tester")

    assert bundle.status == "blocked_by_policy"
    blocked = bundle.manifest["blocked_requests"]
    assert any(b["host"] == "127.0.0.2" for b in blocked)
    assert set(blocked[0]) == {"url", "host", "port", "address", "reason", "at"}
    assert "Kommune Kritiker" not in bundle.artifact("text").data.decode("utf-8")


def test_the_manifest_has_every_url_capture_key_and_matches_the_artifacts(capturer, fixture_site):
    url = fixture_site.url("/redirect")
    bundle = capturer.capture(url, operator="sagsbehandler@kommune.dk")
    m = bundle.manifest

    common = {"schema", "kind", "capture_id", "operator", "started_at_utc", "ended_at_utc", "started_at_local",
              "ended_at_local", "versions", "status", "artifacts", "perceptual_hashes", "text_sha256", "actions"}
    url_keys = {"requested_url", "final_url", "redirect_chain", "http", "server_ip", "tls", "title", "meta",
                "platform", "post", "user_agent", "viewport", "locale", "timezone", "browser_args",
                "blocked_requests", "warc", "truncated", "notes"}
    assert common | url_keys <= set(m)
    assert "timestamp" not in m
    assert m["schema"] == "vaern.manifest/1" and m["kind"] == "url" and re.fullmatch(r"[0-9a-f]{32}", m["capture_id"])
    assert m["operator"] == "sagsbehandler@kommune.dk"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", m["started_at_utc"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0[12]:00", m["started_at_local"])
    assert m["started_at_utc"] <= m["ended_at_utc"]
    assert m["requested_url"] == url and m["final_url"] == fixture_site.url("/facebook_post.html")
    assert [h["status"] for h in m["redirect_chain"]] == [302, 200]
    assert m["http"]["status"] == 200 and m["http"]["headers"]["content-type"].startswith("text/html")
    assert m["server_ip"] == "127.0.0.1" and m["tls"] is None
    assert m["platform"] == "generic"
    assert "HeadlessChrome" not in m["user_agent"] and f"Chrome/{chromium_major()}" in m["user_agent"]
    assert m["viewport"] == {"width": 1280, "height": 900, "device_scale_factor": 1}
    assert (m["locale"], m["timezone"]) == ("da-DK", "Europe/Copenhagen")
    assert "--disable-quic" in m["browser_args"]
    assert {"vaern", "playwright", "chromium", "chromium_playwright_bundled", "python"} <= set(m["versions"])
    assert m["versions"]["vaern"] == "0.1.0-test" and m["versions"]["chromium"] == chromium_version()
    # the installed Chromium is the major this Playwright was built for (else captures may misbehave)
    assert major(m["versions"]["chromium"]) == major(m["versions"]["chromium_playwright_bundled"])
    assert m["warc"]["fidelity"] == "byte-faithful"
    assert m["truncated"] is None
    assert all({"at", "step", "detail"} == set(a) for a in m["actions"])
    # sealed: canonical bytes, fingerprint, and every artifact's hash
    assert bundle.manifest_bytes == canonical_json(m)
    assert bundle.fingerprint == sha256_hex(bundle.manifest_bytes)
    listed = {a["name"]: a for a in m["artifacts"]}
    for art in bundle.artifacts:
        assert listed[art.name]["sha256"] == sha256_hex(art.data) and listed[art.name]["size"] == len(art.data)
    assert {"screenshot_full.png", "screenshot_viewport.png", "page.mhtml", "page.html", "text.txt",
            "traffic.warc.gz", "screenshot_post.png", "screenshot_wall.png"} <= set(listed)
    assert bundle.artifact("mhtml").data.startswith(b"From: <Saved by Blink>")
    # the WARC holds the server's own response to the main document
    responses = {r.rec_headers.get_header("WARC-Target-URI"): r.content_stream().read()
                 for r in ArchiveIterator(io.BytesIO(bundle.artifact("warc").data)) if r.rec_type == "response"}
    assert "Ærøskøbing" in responses[fixture_site.url("/facebook_post.html")].decode("utf-8")
    assert gzip.decompress(bundle.artifact("warc").data).startswith(b"WARC/1.1")


def test_refused_urls_raise_before_any_browser_work(capturer, fixture_site):
    for url in ("file:///etc/passwd", "http://127.0.0.1:1/", "javascript:alert(1)", "http://10.0.0.1/"):
        with pytest.raises(CaptureRefused):
            capturer.capture(url, operator="tester")


def test_two_threads_can_capture_at_the_same_time(capturer, fixture_site):
    results = {}

    def work(path):
        results[path] = capturer.capture(fixture_site.url(path), operator="tester")

    threads = [threading.Thread(target=work, args=(p,)) for p in ("/plain_post.html", "/cp1252_letter.html")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert {p: b.status for p, b in results.items()} == {"/plain_post.html": "ok", "/cp1252_letter.html": "ok"}
    assert "Bjørn Ødegård" in results["/plain_post.html"].manifest["post"]["text_excerpt"]


def test_a_pdf_is_printed_when_asked_and_a_failed_timestamp_leaves_the_capture_valid(capturer, fixture_site):
    opts = replace(capturer.options, pdf=True, tsa_url="http://127.0.0.1:1/tsa", tsa_ca_file="/nonexistent/ca.pem")
    bundle = capturer.capture(fixture_site.url("/plain_post.html"), operator="tester", options=opts)

    assert bundle.status == "ok"
    assert bundle.artifact("pdf").data.startswith(b"%PDF")
    assert bundle.timestamp is None and bundle.timestamp_error


def test_screenshots_show_the_post_with_danish_letters_and_emoji(capturer, fixture_site, tmp_path):
    bundle = capturer.capture(fixture_site.url("/plain_post.html"), operator="tester")

    post = png(bundle.artifact("screenshot_post").data)
    assert post.size[0] == 600
    assert near(post.getpixel((300, 200)), (255, 140, 0)), "the post's photo (orange) is inside the post shot"
    bundle.write_to(tmp_path / "bundle")
    assert (tmp_path / "bundle" / "manifest.json").read_bytes() == bundle.manifest_bytes


def test_a_capture_is_timestamped_over_its_manifest_when_a_tsa_is_configured(capturer, fixture_site, tmp_path):
    from capture.timestamp import verify_timestamp
    from tests.support.tsa import LocalTSA

    with LocalTSA(tmp_path) as tsa:
        opts = replace(capturer.options, tsa_url=tsa.url, tsa_ca_file=tsa.ca_file)
        bundle = capturer.capture(fixture_site.url("/plain_post.html"), operator="tester", options=opts)
        assert bundle.status == "ok" and bundle.timestamp_error is None
        token = verify_timestamp(bundle.timestamp.tsr, bundle.manifest_bytes, tsa.ca_file)
        assert token.serial_number == bundle.timestamp.serial_number
