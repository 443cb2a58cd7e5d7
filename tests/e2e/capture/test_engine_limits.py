"""Limits: very tall pages keep correct pixels, taller ones are cut, a page that never loads is timed out."""
from __future__ import annotations

from dataclasses import replace

import pytest
from tests.support.engine_helpers import near, png
from tests.support.fixture_site import BLOCK_HEIGHT, TALL_COLOURS

pytestmark = pytest.mark.browser


def block_colours_match(img, blocks: int) -> list[int]:
    """Indices of blocks whose centre pixel (right of the comment text) has the wrong colour."""
    wrong = []
    for i in range(blocks):
        y = i * BLOCK_HEIGHT + BLOCK_HEIGHT // 2
        if not near(img.getpixel((1000, y)), TALL_COLOURS[i % len(TALL_COLOURS)]):
            wrong.append(i)
    return wrong


def test_a_41000_px_comment_thread_is_captured_with_correct_pixels_to_the_bottom(capturer, fixture_site):
    opts = replace(capturer.options, max_page_height=45_000)
    bundle = capturer.capture(fixture_site.url("/tall?blocks=41"), operator="tester", options=opts)

    assert bundle.status == "ok"
    img = png(bundle.artifact("screenshot_full").data)
    assert img.size == (1280, 41 * BLOCK_HEIGHT)
    assert block_colours_match(img, 41) == []
    assert bundle.manifest["truncated"] is None


def test_a_page_taller_than_the_limit_is_cut_and_marked_truncated(capturer, fixture_site):
    bundle = capturer.capture(fixture_site.url("/tall?blocks=43"), operator="tester")

    assert bundle.status == "truncated"
    assert bundle.manifest["truncated"] == {"page_height": 43_000, "captured_height": 40_000}
    img = png(bundle.artifact("screenshot_full").data)
    assert img.size == (1280, 40_000)
    assert block_colours_match(img, 40) == []


@pytest.mark.timeout(120)  # a watchdog against hanging, not a measurement (the cap is 8 s)
def test_a_page_that_never_finishes_loading_still_yields_what_rendered_as_timed_out(capturer, fixture_site):
    opts = replace(capturer.options, time_cap_seconds=8)
    bundle = capturer.capture(fixture_site.url("/never_ending.html"), operator="tester", options=opts)

    assert bundle.status == "timed_out"
    assert "aldrig helt færdig" in bundle.artifact("text").data.decode("utf-8")
    assert bundle.artifact("screenshot_full") is not None and bundle.artifact("mhtml") is not None
    assert any("did not finish loading" in n for n in bundle.manifest["notes"])


def test_a_capture_over_its_byte_limit_is_marked_truncated_and_lists_what_was_cut(capturer, fixture_site):
    opts = replace(capturer.options, max_bytes=50_000)
    bundle = capturer.capture(fixture_site.url("/heavy.html"), operator="tester", options=opts)

    assert bundle.status == "truncated"
    assert any("download limit of 50000 bytes" in n for n in bundle.manifest["notes"])
    assert any(b["url"].endswith("/img/noise.png") for b in bundle.manifest["blocked_requests"])
    assert "rådhuspladsen" in bundle.artifact("text").data.decode("utf-8")


@pytest.mark.timeout(120)  # a watchdog against hanging, not a measurement (the cap is 6 s)
def test_a_page_that_locks_up_the_browser_cannot_hang_the_worker(capturer, fixture_site):
    opts = replace(capturer.options, time_cap_seconds=6)
    bundle = capturer.capture(fixture_site.url("/busy_loop.html"), operator="tester", options=opts)

    assert bundle.status in ("timed_out", "failed")
    assert bundle.manifest["notes"]
    after = capturer.capture(fixture_site.url("/plain_post.html"), operator="tester")
    assert after.status == "ok", "the next capture works normally"


@pytest.mark.timeout(120)  # a watchdog: without the caller giving up this would wait out the busy loop
def test_a_capture_that_outlives_even_the_grace_period_returns_failed_and_the_browser_is_replaced(
        fixture_site, monkeypatch):
    from capture import engine
    from capture.engine import Capturer
    from tests.support.engine_helpers import options_for

    with Capturer(options_for(fixture_site, time_cap_seconds=6)) as capturer:
        monkeypatch.setattr(engine, "HARD_GRACE_SECONDS", -4.0)  # the caller gives up after 2 s
        bundle = capturer.capture(fixture_site.url("/busy_loop.html"), operator="tester")
        assert bundle.status == "failed" and bundle.artifacts == []  # the caller gave up: nothing came back
        assert "did not finish" in bundle.manifest["notes"][0]
        monkeypatch.setattr(engine, "HARD_GRACE_SECONDS", 20.0)
        assert capturer.capture(fixture_site.url("/plain_post.html"), operator="tester").status == "ok"
        assert capturer.launches == 2


def test_a_request_that_never_ends_stops_counting_against_network_quiet(capturer, fixture_site):
    opts = replace(capturer.options, network_idle_seconds=15, time_cap_seconds=40)
    bundle = capturer.capture(fixture_site.url("/long_poll.html"), operator="tester", options=opts)

    assert bundle.status == "ok"
    # not "network still busy after 15 s; went on": the long poll did not count as traffic
    assert any(a["detail"] == "network quiet" for a in bundle.manifest["actions"])
