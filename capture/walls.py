"""Walls and moves: consent dialogs, login walls, layers over the post, and pages that navigate on their own.

These stages only gather facts on the run record (what was found, what was clicked, how much stayed
covered, where the page went); capture/manifest.py hands them to capture/judge.py, which turns them into
the status. Rules (selectors, button words, login wording) are data: capture/consent.toml and
capture/login_walls.toml.
"""
from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from .events import QUIET_SECONDS
from .judge import find_phrase
from .page_js import COVER_JS, WALLS_JS
from .run import CaptureRun, Limits, Stage, ms, page_starts, short_error
from .wall_rules import consent_rules, login_rules

MAX_PAGE_MOVES = 5  #: navigations the page may make on its own before Værn stops waiting for it to land
CLICK_ORDER = ("reject", "close", "accept")  #: accept only when rejecting and closing did not work
CLICK_TIMEOUT_MS = 3000


# -- the page moving on by itself ----------------------------------------------------------------
async def follow_navigations(run: CaptureRun) -> None:
    """When the page navigated by itself, wait (bounded) for the page it lands on, and log each move."""
    for _ in range(MAX_PAGE_MOVES):
        moves = len(page_starts(run)) - 1
        if moves <= run.moves_followed:
            return
        run.moves_followed = moves
        target = next(u for u, redirect in reversed(run.nav_requests) if not redirect)
        run.log("navigate", f"the page moved on by itself (meta refresh, script or location change) to {target}")
        await run.net.quiet(QUIET_SECONDS, min(3.0, run.settle_left()))
        try:
            await run.page.wait_for_load_state("load", timeout=ms(min(5.0, run.settle_left())))
        except PlaywrightTimeout:
            run.log("navigate", "the page it moved to did not finish loading in time; went on")
            return
        await run.net.quiet(QUIET_SECONDS, min(1.0, run.settle_left()))
    run.log("navigate", f"the page kept moving on ({len(page_starts(run)) - 1} times); Værn stopped following")


# -- consent and login ---------------------------------------------------------------------------
async def detect_walls(run: CaptureRun, after_consent: bool = False) -> dict[str, Any]:
    """Look for a consent dialog or login form; screenshot the wall before anything is clicked.

    A page that moves on while it is being looked at (a meta refresh firing) is followed once, then checked.
    """
    try:
        return await _detect_walls(run, after_consent)
    except PlaywrightError as exc:
        if "context was destroyed" not in str(exc):
            raise
    run.log("walls", "the page moved on while it was being checked; checking the page it moved to")
    await run.net.quiet(QUIET_SECONDS, min(2.0, run.settle_left()))  # lets the move's request show up
    await follow_navigations(run)
    return await _detect_walls(run, after_consent)


async def _detect_walls(run: CaptureRun, after_consent: bool) -> dict[str, Any]:
    rules = consent_rules()
    form = login_rules(run.adapter.name)
    found = await run.page.evaluate(WALLS_JS, {"cmp": [[c.name, c.container] for c in rules.cmps],
                                               "generic": rules.generic_container, "words": rules.generic_words,
                                               "buttons": rules.generic_buttons, "password": form.password_field,
                                               "overlay": form.overlay})
    run.walls = found
    login = None
    login_hop = next((h["url"] for h in run.redirect_chain if run.adapter.is_login_url(h["url"])), None)
    if login_hop or run.adapter.is_login_url(run.page.url):
        login = f"went to a login page ({login_hop or run.page.url})"
    elif found["password"]:
        text = await run.page.evaluate("() => document.body ? document.body.innerText : ''")
        phrase = find_phrase(text, run.adapter.login_texts)
        if found["overlay"]:
            login = "a login form covers the page" + (f" ({phrase!r})" if phrase else "")
        elif phrase:
            login = f"a login form and login wording on the page ({phrase!r})"
    if not after_consent:
        run.consent = found["consent"]
    if (found["consent"] or login) and "screenshot_wall" not in run.artifacts:
        png = await run.page.screenshot(timeout=ms(max(1.0, run.record_left())))
        run.add("screenshot_wall", png)
        run.log("walls", f"wall found (consent: {found['consent'] or 'none'}, login: {login or 'none'}); "
                         "screenshot_wall taken before any click")
    elif found["consent"] or login:
        run.log("walls", f"still walled (consent: {found['consent'] or 'none'}, login: {login or 'none'})")
    return found


async def dismiss_consent(run: CaptureRun) -> None:
    """Reject optional cookies; if the dialog stays, close it; only then accept. Each click is logged."""
    if not run.consent:
        return
    rules = consent_rules()
    frames = [run.page.main_frame] + [f for f in run.page.frames[1:]
                                      if rules.frame_hint.search(f.url or "") or rules.frame_hint.search(f.name or "")]
    for kind in CLICK_ORDER:
        clicked = await _click_first(run, frames, kind)
        if clicked is None:
            continue
        desc, label = clicked
        run.consent_clicks.append(kind)
        run.log("consent", f"clicked {kind} button {label!r} ({desc}) in {run.consent} dialog")
        await run.net.quiet(QUIET_SECONDS, min(3.0, run.settle_left()))
        await follow_navigations(run)
        found = await detect_walls(run, after_consent=True)
        if not found["consent"]:
            run.consent_still = False
            return
        run.log("consent", f"the {run.consent} dialog is still shown after the {kind} click")
    run.consent_still = True
    if not run.consent_clicks:
        run.log("consent", f"consent dialog ({run.consent}) found but no button to reject, close or accept it")


async def _click_first(run: CaptureRun, frames: list[Any], kind: str) -> tuple[str, str] | None:
    """Click the first visible button of ``kind``; (description, label) or None if none could be clicked."""
    for frame in frames:
        for desc, loc in _locators(frame, kind, run.consent):
            try:
                if not await loc.is_visible():
                    continue
                label = (await loc.inner_text(timeout=CLICK_TIMEOUT_MS)).strip()[:80]
                await loc.click(timeout=CLICK_TIMEOUT_MS)
            except PlaywrightError:
                continue
            return desc, label
    return None


def _locators(frame: Any, kind: str, cmp: str | None):
    rules = consent_rules()
    for sel in (s for c in rules.cmps for s in getattr(c, kind)):
        yield sel, frame.locator(sel).first
    if kind == "reject":
        for sel in rules.generic_reject:
            yield sel, frame.locator(sel).first
    if kind == "close":  # "Luk"/"×" only inside the consent dialog itself, never anywhere on the page
        box = frame.locator(rules.container_of(cmp)).filter(has_text=re.compile(rules.generic_words, re.I))
        for sel in rules.generic_close:
            yield f"{sel} in the dialog", box.locator(sel).first
        for label in rules.close_labels:
            yield f"button /{label}/ in the dialog", box.get_by_role("button", name=re.compile(label, re.I)).first
        return
    labels = rules.reject_labels if kind == "reject" else rules.accept_labels
    for label in labels:
        yield f"button /{label}/", frame.get_by_role("button", name=re.compile(label, re.I)).first
    if kind == "reject":
        for label in labels[:rules.reject_links]:
            yield f"link /{label}/", frame.get_by_role("link", name=re.compile(label, re.I)).first


# -- what still covers the page ------------------------------------------------------------------
async def measure_cover(run: CaptureRun) -> None:
    """Measure, right before recording, how much of the window and of the post a layer still covers."""
    selector = consent_rules().container_of(run.consent) if run.consent and run.consent != "generic" else None
    try:
        run.cover = await run.page.evaluate(COVER_JS, {"postSelectors": list(run.adapter.post_selectors),
                                                       "consentSelector": selector})
    except PlaywrightError as exc:
        run.log("cover", f"could not measure what covers the page: {short_error(exc)}")
        return
    share = run.cover["viewport"]
    post = run.cover["post"]
    run.log("cover", f"layers over the page hide {round(share * 100)} % of the visible content"
                     + (f" and {round(post * 100)} % of the post" if post is not None else "; no post in view")
                     + (f" ({run.cover['text'][:80]!r})" if run.cover.get("text") and share > 0 else ""))


# -- the stages ----------------------------------------------------------------------------------
class FollowNavigations(Stage):
    """Wait for the page a meta refresh or script moved to (at most ``MAX_PAGE_MOVES`` times)."""

    name = "follow_navigations"
    limits = Limits(phase="settle")  #: per move at most 3 s to go quiet, 5 s to load, 1 s quiet again

    async def run(self, run: CaptureRun) -> None:
        await follow_navigations(run)


class DetectWalls(Stage):
    """Consent dialog or login form; the wall is photographed before anything is clicked."""

    name = "detect_walls"
    limits = Limits(phase="settle")

    async def run(self, run: CaptureRun) -> None:
        await detect_walls(run)


class DismissConsent(Stage):
    """Reject, else close, else accept the consent dialog (CLICK_ORDER), each click within CLICK_TIMEOUT_MS."""

    name = "dismiss_consent"
    limits = Limits(phase="settle")  #: and CLICK_TIMEOUT_MS per click

    async def run(self, run: CaptureRun) -> None:
        await dismiss_consent(run)


class MeasureCover(Stage):
    """How much a layer still hides, measured right before recording (one page round trip)."""

    name = "measure_cover"
    limits = Limits(phase="settle")

    async def run(self, run: CaptureRun) -> None:
        await measure_cover(run)
