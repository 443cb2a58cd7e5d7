"""The capture pipeline's stages: their order, the limits they declare, and how a failing stage is logged.

No browser: these check the stage objects and the run record, not what a stage does to a page
(tests/capture/test_engine_*.py do that with the real Chromium).
"""
from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from capture import steps
from capture.adapters import GENERIC
from capture.options import CaptureOptions
from capture.run import CaptureRun, Limits, Stage, page_moves, run_stage, salvage_reserve
from capture.wall_rules import consent_rules, login_rules

OPTION_NAMES = {f.name for f in dataclasses.fields(CaptureOptions)}


def a_run(**opts) -> CaptureRun:
    return CaptureRun(url="https://example.org/a", requested_url="https://example.org/a", operator="t",
                      options=CaptureOptions(**opts), adapter=GENERIC, context=None, page=None)


def test_the_pipeline_order_is_settle_then_record_then_pdf():
    # The action names in every manifest come from these: renaming one changes the evidence's wording.
    assert steps.NAVIGATE.name == "navigate"
    assert [s.name for s in steps.SETTLE] == ["follow_navigations", "detect_walls", "dismiss_consent", "scroll",
                                              "follow_navigations", "measure_cover"]
    assert [s.name for s in steps.RECORD] == ["screenshots", "snapshot", "post_screenshot"]
    assert [s.name for s in steps.FINISH] == ["pdf"]


def all_stages() -> list[Stage]:
    return [steps.NAVIGATE, *steps.SETTLE, *steps.RECORD, *steps.FINISH]


@pytest.mark.parametrize("stage", all_stages(), ids=lambda s: s.name)
def test_every_stage_declares_limits_that_name_real_options(stage):
    limits = stage.limits
    assert isinstance(limits, Limits)
    expected = "record" if stage in (*steps.RECORD, *steps.FINISH) else "settle"
    assert limits.phase == expected
    for value in (limits.seconds, limits.pixels, limits.bytes):
        if isinstance(value, str):
            assert value in OPTION_NAMES


def test_the_stages_that_scroll_or_render_the_page_are_bounded_in_pixels():
    bounded = {s.name for s in all_stages() if s.limits.pixels == "max_page_height"}
    assert bounded == {"scroll", "screenshots", "post_screenshot"}
    assert steps.NAVIGATE.limits.bytes == "max_bytes"


def test_a_stage_cap_applies_within_what_its_phase_has_left():
    run = a_run(time_cap_seconds=100, scroll_seconds=10, max_page_height=12_345)
    scroll = next(s for s in steps.SETTLE if s.name == "scroll")
    assert scroll.limits.seconds_left(run) == pytest.approx(10, abs=0.5)
    assert scroll.limits.max_pixels(run) == 12_345
    run.t0 = time.monotonic() - 55  # 5 s of the 60 s settle phase left
    assert scroll.limits.seconds_left(run) == pytest.approx(5, abs=0.5)
    run.t0 = time.monotonic() - 70
    assert scroll.limits.seconds_left(run) == 0
    record = Limits(phase="record")
    assert record.seconds_left(run) == pytest.approx(100 - salvage_reserve(100) - 70, abs=0.5)


class Boom(Stage):
    name = "boom"

    async def run(self, run: CaptureRun) -> None:
        raise ValueError("the page went away\nsecond line")


class Cancelled(Stage):
    name = "cancelled"

    async def run(self, run: CaptureRun) -> None:
        raise asyncio.CancelledError


def test_a_failing_stage_is_logged_with_its_reason_and_the_run_goes_on():
    run = a_run()
    assert asyncio.run(run_stage(run, Boom())) is False
    assert run.notes == ["boom failed: ValueError: the page went away"]
    assert [(a["step"], a["detail"]) for a in run.actions] == [("boom", "boom failed: ValueError: the page went away")]


def test_a_cancelled_stage_is_not_swallowed():
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(run_stage(a_run(), Cancelled()))


def test_page_moves_count_the_pages_own_moves_not_redirects_or_reloads():
    run = a_run()
    run.nav_requests = [("https://a.test/", False), ("https://a.test/r", True), ("https://a.test/", False),
                        ("https://b.test/", False)]
    assert page_moves(run) == 1


def test_wall_selectors_and_button_words_come_from_the_data_files():
    consent = consent_rules()
    assert "input[type=submit]" in consent.generic_buttons
    assert any("afvis" in label for label in consent.reject_labels)
    form = login_rules("generic")
    assert form.password_field == "input[type=password]"
    assert "[aria-modal=true]" in form.overlay
    assert login_rules("facebook").password_field == form.password_field
