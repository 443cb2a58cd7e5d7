"""The URL capture's manifest and status from hand-built run records: no browser, no network."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from capture import manifest as mf
from capture.adapters import adapter_for
from capture.bundle import EvidenceBundle
from capture.options import CaptureOptions
from capture.run import CaptureRun
from capture.traffic import Blocked, Exchange, ProxyRecord

AT = datetime(2026, 12, 4, 9, 0, 0, 123456, tzinfo=timezone.utc)
FB = "https://www.facebook.com/someone/posts/12345"
VERSIONS = {"playwright": "1.0", "python": "3.11.7", "chromium": "140.0", "vaern": "1.2.3"}


def exchange(url: str, status: int = 200) -> Exchange:
    return Exchange(id="e1", url=url, method="GET", request_line=b"GET / HTTP/1.1", request_headers=[(b"Host", b"x")],
                    request_body=b"", http_version="HTTP/1.1", status=status, reason="OK",
                    response_headers=[(b"Content-Type", b"text/html")], response_body=b"<html>",
                    started_at="2026-12-04T09:00:00.000000Z", ended_at="2026-12-04T09:00:01.000000Z",
                    server_ip="203.0.113.5", server_port=443, tls=None)


def record(url: str, *, status: int = 200, over_limit: bool = False, failed: list | None = None) -> ProxyRecord:
    blocked = [Blocked(url="http://10.0.0.1/", host="10.0.0.1", port=80, address="10.0.0.1", reason="private",
                       code="blocked_address", at="2026-12-04T09:00:00.500000Z")]
    return ProxyRecord(exchanges=[exchange(url, status)], blocked=blocked, noise=[], bytes_total=10,
                       over_limit=over_limit, failed=failed or [])


def a_run(url: str = FB, *, post: bool = True, text: str = "Hello world " * 10) -> CaptureRun:
    run = CaptureRun(url=url, requested_url=url + "?utm=1", operator="op@kommune.dk",
                     options=CaptureOptions(versions={"vaern": "1.2.3"}), adapter=adapter_for(url),
                     context=None, page=None, started=AT)
    run.actions.append({"at": "2026-12-04T09:00:00.000000Z", "step": "navigate", "detail": "HTTP 200"})
    run.nav_requests = [(url, False)]
    run.http = {"status": 200, "headers": {"content-type": "text/html"}}
    run.extracted = {"title": "T", "meta": {"og:title": "x", "description": "d"}, "text": text,
                     "post": {"selector": "article", "text": "Post text", "id": None,
                              "author": {"href": "/someone", "text": "Some One"}} if post else None}
    run.post_text = "Post   text here" if post else None
    run.cover = {"viewport": 0.0, "post": 0.0 if post else None, "text": ""}
    for role in ("screenshot_full", "screenshot_viewport", "html", "mhtml", "text", "warc"):
        run.add(role, role.encode())
    return run


def build(run: CaptureRun, rec: ProxyRecord, page_url: str | None = None) -> tuple[dict, str]:
    base = mf.base_manifest("c" * 32, run.operator, run.started, AT, run.options, dict(VERSIONS), "UA", ["--a"])
    return mf.url_manifest(base, run, page_url or run.url, rec, rec.manifest_fields(run.url), None)


def test_a_plain_post_is_ok_and_its_manifest_says_where_when_and_who():
    run = a_run()
    manifest, status = build(run, record(FB))
    assert status == "ok"
    assert manifest["schema"] == "vaern.manifest/1" and manifest["kind"] == "url"
    assert manifest["started_at_local"] == "2026-12-04T10:00:00.123456+01:00"
    assert manifest["final_url"] == FB and manifest["requested_url"] == FB + "?utm=1"
    assert manifest["platform"] == "facebook"
    assert manifest["post"] == {"id": "12345", "author_handle": "someone",
                                "author_profile_url": "https://www.facebook.com/someone",
                                "text_excerpt": "Post text here"}
    assert manifest["navigation_chain"] == [{"url": FB, "via": "submitted", "status": 200, "blocked": None}]
    assert manifest["blocked_requests"][0]["address"] == "10.0.0.1"
    assert manifest["warc"] == {"fidelity": "byte-faithful", "records": 3}
    assert list(manifest["meta"]) == ["description", "og:title"]


def test_the_manifest_bytes_of_a_fixed_run_are_frozen():
    """The same bytes as the engine on main made for this run before the split (checked by hand, December 2026).
    A change here changes what a sealed capture says: it needs a new schema, not a new number."""
    run = a_run()
    run.consent, run.consent_clicks = "onetrust", ["reject"]
    run.truncated = {"page_height": 50000, "captured_height": 40000}
    manifest, status = build(run, record(FB))
    bundle = EvidenceBundle.seal(status, mf.artifacts_of(run), manifest)
    assert status == "truncated"
    assert [a["name"] for a in bundle.manifest["artifacts"]] == [
        "screenshot_full.png", "screenshot_viewport.png", "page.mhtml", "page.html", "text.txt", "traffic.warc.gz"]
    assert hashlib.sha256(bundle.manifest_bytes).hexdigest() == FROZEN_SHA256


FROZEN_SHA256 = "2d298f23ddd16ddf1badf23c3494d413d9c49acec4efa7c8913f58c4d2fe33bd"


def test_the_proxys_view_of_the_answer_wins_over_the_browsers():
    run = a_run()
    run.http = {"status": 200, "headers": {"from": "browser"}}
    manifest, _ = build(run, record(FB, status=203))
    assert manifest["http"] == {"status": 203, "headers": {"content-type": "text/html"}}


def test_a_page_that_leaves_the_site_is_navigated_away_whatever_it_shows():
    run = a_run()
    run.nav_requests.append(("https://elsewhere.net/landing", False))
    manifest, status = build(run, record(FB), page_url="https://elsewhere.net/landing")
    assert status == "navigated_away"
    assert manifest["final_url"] == "https://elsewhere.net/landing"
    assert any("left the submitted site (facebook.com)" in n for n in manifest["notes"])
    assert any("moved on by itself while it was being recorded" in n for n in manifest["notes"])


def test_on_an_error_page_the_final_url_is_the_last_document_asked_for():
    run = a_run()
    run.nav_requests.append((FB + "?again", True))
    assert mf.final_url_of(run, "chrome-error://chromewebdata/") == FB + "?again"
    assert mf.final_url_of(run, FB) == FB


def test_the_byte_limit_and_upstream_failures_are_said_in_the_notes():
    run = a_run()
    manifest, status = build(run, record(FB, over_limit=True, failed=[{"url": "u"}]))
    assert status == "truncated"
    assert "1 request(s) failed upstream (see the WARC for what arrived)" in manifest["notes"]
    assert any("download limit of 209715200 bytes" in n for n in manifest["notes"])


def test_missing_essential_files_make_the_capture_failed():
    run = a_run()
    del run.artifacts["mhtml"]
    manifest, status = build(run, record(FB))
    assert status == "failed"
    assert "missing artifacts: mhtml" in manifest["notes"]


@pytest.mark.parametrize("http_status", [404, 410, 451])
def test_gone_statuses_are_not_found(http_status):
    run = a_run()
    run.http = {"status": http_status, "headers": {}}
    mf.detect_not_found(run)
    assert run.not_found == f"HTTP {http_status}"


def test_removal_wording_counts_on_a_short_page_but_not_on_a_long_page_with_the_post():
    short = a_run(text="This content isn't available right now")
    mf.detect_not_found(short)
    assert short.not_found == "removal text on the page: \"This content isn't available right now\""
    long = a_run(text="This content isn't available right now " + "x" * 4000)
    mf.detect_not_found(long)
    assert long.not_found is None
    _, status = build(short, record(FB))
    assert status == "not_found"


def test_the_post_excerpt_is_cut_and_the_author_comes_from_the_page_when_the_url_is_silent():
    url = "https://example.org/a"
    run = a_run(url)
    run.post_text = "ord " * 200
    post = mf.post_info(run, url)
    assert post["id"] is None
    assert post["author_profile_url"] == "https://example.org/someone" and post["author_handle"] == "someone"
    assert len(post["text_excerpt"]) == mf.POST_EXCERPT_CHARS


def test_a_hung_capture_says_so_and_claims_nothing_else():
    opts = CaptureOptions()
    base = mf.base_manifest("d" * 32, "op", AT, AT, opts, mf.versions(opts, {"python": "3"}, None), None, ["--x"])
    manifest = mf.hung_manifest(base, "https://example.org/a?x", "https://example.org/a", "generic", "hung", AT)
    assert manifest["versions"] == {"python": "3", "vaern": "unknown"}
    assert manifest["notes"] == ["hung"] and manifest["actions"][0]["step"] == "capture"
    assert manifest["http"] is None and manifest["post"] is None and manifest["user_agent"] is None
    assert EvidenceBundle.seal("failed", [], manifest).status == "failed"
