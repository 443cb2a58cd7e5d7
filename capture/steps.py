"""The capture pipeline: small stage objects passing one ``CaptureRun`` (capture/run.py) along.

Two phases share the time cap: *settle* (navigate, walls, consent, scroll, images) may use the first
part of it; *record* (screenshots, snapshot, extract, post, PDF) gets the rest, so a page that never
finishes loading still yields what was rendered. Each stage declares its ``Limits`` and records what it
did in the actions log; a failing stage is logged with its reason and the run goes on (STYLE.md §7).
The order is data: ``SETTLE``, ``RECORD`` (run together on one rendered frame) and ``FINISH``.
"""
from __future__ import annotations

import asyncio
import base64
import io
import math
from typing import Any

from PIL import Image
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from .events import QUIET_SECONDS
from .manifest import POST_EXCERPT_CHARS  # noqa: F401 - tracker/packaging/reports.py reads it here
from .page_js import EXTRACT_JS, IMAGES_JS, POST_RECT_JS, SCROLL_JS
from .run import SETTLE_SHARE, CaptureRun, Limits, Stage, ms, page_moves, run_stage, short_error
from .walls import DetectWalls, DismissConsent, FollowNavigations, MeasureCover

SCROLL_PAUSE_MS = 40  #: after each scroll step, two animation frames plus this, so observers fire
MAX_PAGE_WIDTH = 4096  #: CSS px; wider pages are cut at the right (rare: broken layouts)


# --- settle phase -------------------------------------------------------------------------------
class Navigate(Stage):
    """Open the URL; wait for ``load`` within the settle budget (a page that never loads is timed_out),
    then for the network to go quiet (at most ``network_idle_seconds``)."""

    name = "navigate"
    limits = Limits(phase="settle", seconds="network_idle_seconds", bytes="max_bytes")

    async def run(self, run: CaptureRun) -> None:
        try:
            run.response = await run.page.goto(run.url, wait_until="commit", timeout=ms(self.limits.phase_left(run)))
        except PlaywrightTimeout:
            run.timed_out = "the main document did not arrive within the time cap"
            run.log("navigate", run.timed_out)
            return
        except PlaywrightError as exc:
            run.failed = f"navigation failed: {short_error(exc)}"
            run.log("navigate", run.failed)
            return
        await record_response(run)
        run.log("navigate", f"HTTP {run.http['status'] if run.http else '?'} {run.page.url}")
        try:
            await run.page.wait_for_load_state("load", timeout=ms(self.limits.phase_left(run)))
        except PlaywrightTimeout:
            run.timed_out = f"the page did not finish loading within {int(run.cap * SETTLE_SHARE)} s"
            run.log("navigate", run.timed_out)
            return
        budget = self.limits.seconds_left(run)
        quiet = await run.net.quiet(QUIET_SECONDS, budget)
        run.log("wait", "network quiet" if quiet else f"network still busy after {budget:.0f} s; went on")


async def record_response(run: CaptureRun) -> None:
    resp = run.response
    if resp is None:
        return
    hops = []
    req = resp.request
    while req is not None:
        hops.append(req)
        req = req.redirected_from
    chain = []
    for hop in reversed(hops):
        hop_resp = await hop.response() if hop is not resp.request else resp
        chain.append({"url": hop.url, "status": hop_resp.status if hop_resp else None})
    run.redirect_chain = chain
    run.http = {"status": resp.status, "headers": await resp.all_headers()}


class Scroll(Stage):
    """Scroll a viewport at a time to trigger lazy content (bounded by height and time), then back to the top;
    then wait (briefly) for late requests and for the images above the height limit."""

    name = "scroll"
    limits = Limits(phase="settle", seconds="scroll_seconds", pixels="max_page_height")

    async def run(self, run: CaptureRun) -> None:
        budget = self.limits.seconds_left(run)
        if budget <= 0:
            run.log("scroll", "skipped: no time left")
            return
        height = self.limits.max_pixels(run)
        res = await run.page.evaluate(SCROLL_JS, {"maxHeight": height, "budgetMs": int(budget * 1000),
                                                  "pauseMs": SCROLL_PAUSE_MS})
        if res["steps"]:
            run.log("scroll", f"scrolled {res['steps']} steps to y={int(res['y'])} of {int(res['height'])} px"
                              + (" (time budget used up)" if res["outOfTime"] else "") + "; back to top")
        # Second quiet check (instant if nothing moved since the first): lazy content and late requests.
        if not await run.net.quiet(QUIET_SECONDS, min(float(run.options.network_idle_seconds), 3.0,
                                                      run.settle_left())):
            run.log("wait", "network still busy after scrolling; went on")
        left = run.settle_left()
        imgs = await run.page.evaluate(IMAGES_JS, {"maxHeight": height,
                                                   "budgetMs": int(min(5.0, max(0.1, left)) * 1000)})
        if imgs["waited"] or imgs["stillLoading"]:
            run.log("images", f"waited for {imgs['waited']} images; {imgs['stillLoading']} still loading")


# --- record phase -------------------------------------------------------------------------------
async def devtools(run: CaptureRun) -> Any:
    """The run's CDP session: screenshots and MHTML go straight to DevTools (fewer round trips)."""
    if run.cdp is None:
        run.cdp = await run.context.new_cdp_session(run.page)
    return run.cdp


async def cdp_png(run: CaptureRun, clip: dict[str, int] | None = None) -> bytes:
    """PNG of the viewport, or of ``clip`` (document CSS px, may lie beyond the viewport).

    ``optimizeForSpeed`` halves the encoding time of tall pages (bigger files, same pixels).
    """
    params: dict[str, Any] = {"format": "png", "optimizeForSpeed": True}
    if clip is not None:
        params.update(captureBeyondViewport=True, clip={**clip, "scale": 1})
    cdp = await devtools(run)
    res = await asyncio.wait_for(cdp.send("Page.captureScreenshot", params), max(1.0, run.record_left()))
    return base64.b64decode(res["data"])


class Screenshots(Stage):
    """Viewport and full-page PNG; past ``max_page_height`` the full page is clipped and marked truncated."""

    name = "screenshots"
    limits = Limits(phase="record", pixels="max_page_height")

    async def run(self, run: CaptureRun) -> None:
        try:
            await _screenshots(run, self.limits.max_pixels(run))
        finally:  # let post_screenshot go on, with the viewport PNG or without it
            shot = run.artifacts.get("screenshot_viewport")
            if run.viewport_shot is not None and not run.viewport_shot.done():
                run.viewport_shot.set_result(shot.data if shot else None)


async def _screenshots(run: CaptureRun, limit: int) -> None:
    cdp = await devtools(run)
    metrics = await cdp.send("Page.getLayoutMetrics")
    content, viewport = metrics["cssContentSize"], metrics["cssLayoutViewport"]
    height = math.ceil(content["height"])
    width = min(math.ceil(max(content["width"], viewport["clientWidth"])), MAX_PAGE_WIDTH)
    run.page_height = height
    viewport_png = await cdp_png(run)
    run.add("screenshot_viewport", viewport_png)
    if run.viewport_shot is not None and not run.viewport_shot.done():
        run.viewport_shot.set_result(viewport_png)
    if height <= viewport["clientHeight"] and width <= viewport["clientWidth"]:
        run.add("screenshot_full", viewport_png)
        run.log("screenshot", f"page ({height} px) fits the viewport: the full-page screenshot is the viewport's")
        return
    if height > limit:
        run.truncated = {"page_height": height, "captured_height": limit}
        run.log("screenshot", f"page is {height} px tall; full-page screenshot cut at {limit} px")
    png = await cdp_png(run, {"x": 0, "y": 0, "width": width, "height": min(height, limit)})
    run.add("screenshot_full", png)
    run.log("screenshot", f"full page ({width}x{min(height, limit)} px) and viewport captured")


class Snapshot(Stage):
    """Rendered HTML, MHTML (CDP Page.captureSnapshot), visible text and page metadata, read concurrently."""

    name = "snapshot"
    limits = Limits(phase="record")

    async def run(self, run: CaptureRun) -> None:
        cdp = await devtools(run)
        html, mhtml, data = await asyncio.gather(
            run.page.content(),
            cdp.send("Page.captureSnapshot", {"format": "mhtml"}),
            run.page.evaluate(EXTRACT_JS, {"postSelectors": list(run.adapter.post_selectors),
                                           "authorSelectors": list(run.adapter.author_selectors)}),
        )
        run.add("html", html.encode("utf-8"))
        run.add("mhtml", mhtml["data"].encode("utf-8"))
        run.add("text", data["text"].encode("utf-8"))
        run.extracted = data
        if data["post"]:
            run.post_text = data["post"]["text"]
        run.log("snapshot", f"HTML, MHTML and text captured; post element "
                            f"{'found (' + data['post']['selector'] + ')' if data['post'] else 'not found'}")


class PostScreenshot(Stage):
    """Screenshot of the post element alone: the stable basis for perceptual hashing (tech.md §3).

    A post inside the viewport is cut from the viewport PNG (same frame, same pixels, one browser
    round trip less); otherwise the browser renders the element's box.
    """

    name = "post_screenshot"
    limits = Limits(phase="record", pixels="max_page_height")

    async def run(self, run: CaptureRun) -> None:
        found = await run.page.evaluate(POST_RECT_JS, list(run.adapter.post_selectors))
        if not found or found["width"] < 1 or found["height"] < 1:
            return
        rect = {k: found[k] for k in ("x", "y", "width", "height")}
        height = min(rect["height"], self.limits.max_pixels(run))
        png, how = None, "rendered"
        inside = (found["x"] >= found["sx"] and found["y"] >= found["sy"]
                  and found["x"] + found["width"] <= found["sx"] + found["vw"]
                  and found["y"] + height <= found["sy"] + found["vh"])
        if inside and run.viewport_shot is not None:
            viewport_png = await asyncio.wait_for(asyncio.shield(run.viewport_shot), max(1.0, run.record_left()))
            if viewport_png is not None:
                box = (rect["x"] - found["sx"], rect["y"] - found["sy"],
                       rect["x"] - found["sx"] + rect["width"], rect["y"] - found["sy"] + height)
                png, how = await asyncio.to_thread(crop_png, viewport_png, box), "cut from the viewport screenshot"
        if png is None:
            png = await cdp_png(run, {**rect, "height": height})
        run.add("screenshot_post", png)
        cut = f"; cut at {height} px" if height < rect["height"] else ""
        run.log("screenshot", f"post element captured ({rect['width']}x{rect['height']} px{cut}; {how})")


def crop_png(png: bytes, box: tuple[int, int, int, int]) -> bytes:
    """``box`` (left, top, right, bottom, px) of ``png`` as a new PNG; fast compression, same pixels."""
    with Image.open(io.BytesIO(png)) as img:
        part = img.crop(box)
    out = io.BytesIO()
    part.save(out, "PNG", compress_level=1)
    return out.getvalue()


class Pdf(Stage):
    """The page printed to A4 (screen media), only when ``options.pdf`` asks for it."""

    name = "pdf"
    limits = Limits(phase="record")

    async def run(self, run: CaptureRun) -> None:
        if not run.options.pdf:
            return
        await run.page.emulate_media(media="screen")
        run.add("pdf", await run.page.pdf(format="A4", print_background=True))
        run.log("pdf", "page printed to PDF (screen media)")


# --- the pipeline -------------------------------------------------------------------------------
NAVIGATE = Navigate()
#: after navigation, unless it timed out: walls, consent, lazy content, and what still covers the page
SETTLE: tuple[Stage, ...] = (FollowNavigations(), DetectWalls(), DismissConsent(), Scroll(), FollowNavigations(),
                             MeasureCover())
#: run together on the same rendered frame (the post shot may be cut from the viewport shot)
RECORD: tuple[Stage, ...] = (Screenshots(), Snapshot(), PostScreenshot())
FINISH: tuple[Stage, ...] = (Pdf(),)  #: changes the page's media, so last


async def run_pipeline(run: CaptureRun) -> None:
    """Settle, then record. Stops early only when navigation itself failed."""
    await run_stage(run, NAVIGATE)
    if run.failed:
        return
    if not run.timed_out:
        for stage in SETTLE:
            await run_stage(run, stage)
    run.moves_before_recording = page_moves(run)
    run.viewport_shot = asyncio.get_running_loop().create_future()
    await asyncio.gather(*(run_stage(run, stage) for stage in RECORD))
    for stage in FINISH:
        await run_stage(run, stage)


async def salvage(run: CaptureRun) -> None:
    """After the hard cap: keep whatever can still be had quickly (viewport, HTML, text)."""
    page = run.page
    if "screenshot_viewport" not in run.artifacts:
        run.add("screenshot_viewport", await page.screenshot(timeout=3000))
        run.log("salvage", "viewport screenshot taken after the time cap")
    if "html" not in run.artifacts:
        run.add("html", (await page.content()).encode("utf-8"))
        run.log("salvage", "HTML taken after the time cap")
    if "text" not in run.artifacts:
        run.add("text", (await page.evaluate("() => document.body ? document.body.innerText : ''")).encode("utf-8"))
