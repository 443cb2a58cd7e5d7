"""The capture pipeline as small steps passing one ``CaptureRun`` along.

Two phases share the time cap: *settle* (navigate, walls, consent, scroll, images) may use the first
part of it; *record* (screenshots, snapshot, extract, post, PDF) gets the rest, so a page that never
finishes loading still yields what was rendered. Every step records what it did in the actions log;
a failing step is logged with its reason and the run goes on (STYLE.md §7).
"""
from __future__ import annotations

import asyncio
import base64
import io
import logging
import math
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable
from urllib.parse import urljoin, urlsplit

from PIL import Image
from playwright.async_api import BrowserContext, Download, Page, Request
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from .adapters import Adapter
from .bundle import Artifact
from .hashing import normalise_text
from .options import CaptureOptions
from .page_js import EXTRACT_JS, IMAGES_JS, POST_RECT_JS, SCROLL_JS

log = logging.getLogger(__name__)

#: No request in flight for this long = network quiet. Checked after load and again right before
#: recording (so a late request gets a second chance); Playwright's networkidle waits 0.5 s once.
QUIET_SECONDS = 0.1
LONG_REQUEST_SECONDS = 3.0  #: requests in flight longer than this stop counting (long polling)
SCROLL_PAUSE_MS = 40  #: after each scroll step, two animation frames plus this, so observers fire
CLICK_TIMEOUT_MS = 3000
POST_EXCERPT_CHARS = 280
TOMBSTONE_MAX_TEXT = 3000  #: tombstone wording is trusted on short pages only (auto-archiver's rule)
NOT_FOUND_STATUSES = (404, 410, 451)
MAX_PAGE_WIDTH = 4096  #: CSS px; wider pages are cut at the right (rare: broken layouts)

ROLE_FILES = {
    "screenshot_full": ("screenshot_full.png", "image/png"),
    "screenshot_viewport": ("screenshot_viewport.png", "image/png"),
    "screenshot_wall": ("screenshot_wall.png", "image/png"),
    "screenshot_post": ("screenshot_post.png", "image/png"),
    "mhtml": ("page.mhtml", "multipart/related"),
    "html": ("page.html", "text/html"),
    "text": ("text.txt", "text/plain; charset=utf-8"),
    "warc": ("traffic.warc.gz", "application/warc"),
    "pdf": ("page.pdf", "application/pdf"),
}

def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class CaptureRun:
    """Everything one capture knows so far; steps read and extend it."""

    url: str  #: the normalised URL navigated to
    requested_url: str
    operator: str
    options: CaptureOptions
    adapter: Adapter
    context: BrowserContext
    page: Page
    started: datetime = field(default_factory=utc_now)
    t0: float = field(default_factory=time.monotonic)
    actions: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    pending: set[asyncio.Task[Any]] = field(default_factory=set)
    response: Any = None  #: Playwright Response of the main document
    redirect_chain: list[dict[str, Any]] = field(default_factory=list)
    http: dict[str, Any] | None = None
    extracted: dict[str, Any] = field(default_factory=dict)
    post_text: str | None = None
    page_height: int | None = None
    truncated: dict[str, int] | None = None
    consent: str | None = None  #: CMP name (or "generic") if a consent dialog was found
    consent_clicks: list[str] = field(default_factory=list)  #: "reject" / "close" / "accept", in order
    consent_still: bool = False  #: the dialog was still shown after Værn's last attempt
    walls: dict[str, Any] = field(default_factory=dict)  #: the last WALLS_JS result (password field, overlay)
    cover: dict[str, Any] | None = None  #: COVER_JS result, measured right before recording
    #: main-frame document requests in order: (url, is an HTTP redirect hop)
    nav_requests: list[tuple[str, bool]] = field(default_factory=list)
    moves_followed: int = 0  #: page moves (meta refresh, script) already waited for
    moves_before_recording: int = 0
    not_found: str | None = None  #: reason, if removed/not found
    timed_out: str | None = None  #: reason, if the time cap cut the run short
    over_limit: str | None = None  #: reason, if the proxy's byte limit cut responses
    failed: str | None = None  #: reason, if nothing usable could be captured
    hash_task: asyncio.Task[Any] | None = None
    cdp: Any = None  #: CDPSession, opened on first use
    #: the viewport PNG once taken (None if it failed): the post shot is cut from it when it fits
    viewport_shot: asyncio.Future[bytes | None] | None = None

    # --- time budget -------------------------------------------------------------------------
    @property
    def cap(self) -> float:
        return float(self.options.time_cap_seconds)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def settle_left(self) -> float:
        """Seconds the settle phase may still use (60 % of the cap, leaving the rest to recording)."""
        return max(0.0, self.cap * 0.6 - self.elapsed())

    def record_left(self) -> float:
        """Seconds left before the recording phase must stop (the rest is salvage reserve)."""
        return max(0.0, self.cap - salvage_reserve(self.cap) - self.elapsed())

    # --- logging ------------------------------------------------------------------------------
    def log(self, step: str, detail: str) -> None:
        self.actions.append({"at": iso_utc(utc_now()), "step": step, "detail": detail})

    def add(self, role: str, data: bytes) -> None:
        name, media_type = ROLE_FILES[role]
        self.artifacts[role] = Artifact(name=name, role=role, media_type=media_type, data=data)

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run an event handler's work as a task the engine awaits before closing the context."""
        task = asyncio.ensure_future(coro)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)


def salvage_reserve(cap: float) -> float:
    """Seconds kept back from the cap to salvage what rendered when the recording phase overruns."""
    return min(8.0, cap * 0.2)


def ms(seconds: float) -> float:
    """Playwright timeout in ms; never 0, which Playwright reads as "no timeout"."""
    return max(1.0, seconds * 1000)


def short_error(exc: BaseException) -> str:
    """One line for the actions log and notes: exception type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return (f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__)[:300]


# --- event handlers: dialogs, downloads, pop-ups, network --------------------------------------
class NetworkMonitor:
    """Tracks the page's requests in flight, so "network quiet" is known without a fixed sleep.

    A request in flight for longer than ``LONG_REQUEST_SECONDS`` (long polling, event streams, a
    server that never answers) no longer counts: social-media pages keep such connections open for
    ever, and waiting for them would spend the whole idle budget on every capture.
    """

    def __init__(self, page: Page):
        self.inflight: dict[Request, float] = {}
        self.last_change = time.monotonic()
        self.changed = asyncio.Event()
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, request: Request) -> None:
        if request.redirected_from is not None:
            self.inflight.pop(request.redirected_from, None)
        self.inflight[request] = time.monotonic()
        self._touch()

    def _ended(self, request: Request) -> None:
        self.inflight.pop(request, None)
        self._touch()

    def _touch(self) -> None:
        self.last_change = time.monotonic()
        self.changed.set()

    def busy_until(self, now: float) -> float | None:
        """When the youngest counted request stops counting (None: nothing counted in flight)."""
        counted = [t for t in self.inflight.values() if now - t < LONG_REQUEST_SECONDS]
        return max(counted) + LONG_REQUEST_SECONDS if counted else None

    async def quiet(self, quiet_s: float, timeout_s: float) -> bool:
        """True once no (counted) request was in flight for ``quiet_s``; False if ``timeout_s`` ran out first."""
        end = time.monotonic() + timeout_s
        while True:
            now = time.monotonic()
            busy = self.busy_until(now)
            if busy is None and now - self.last_change >= quiet_s:
                return True
            if now >= end:
                return False
            wait = (busy - now) if busy is not None else quiet_s - (now - self.last_change)
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), max(0.01, min(end - now, wait)))
            except asyncio.TimeoutError:
                pass


def attach_handlers(run: CaptureRun) -> NetworkMonitor:
    """Dismiss dialogs, refuse downloads and close pop-ups, logging each; note every main-document request."""
    page, context = run.page, run.context

    def on_dialog(dialog: Any) -> None:
        run.log("dialog", f"{dialog.type} dismissed: {dialog.message[:200]!r}")
        run.spawn(_quietly(dialog.dismiss()))

    def on_download(download: Download) -> None:
        run.log("download", f"refused download of {download.url} ({download.suggested_filename!r})")
        run.spawn(_quietly(download.cancel()))

    def on_page(popup: Page) -> None:
        if popup is page:
            return
        run.spawn(_close_popup(run, popup))

    def on_request(request: Request) -> None:  # the chain of addresses the main document went through
        try:
            if request.is_navigation_request() and request.frame == page.main_frame:
                run.nav_requests.append((request.url, request.redirected_from is not None))
        except PlaywrightError:
            pass

    page.on("dialog", on_dialog)
    page.on("download", on_download)
    page.on("request", on_request)
    context.on("page", on_page)
    return NetworkMonitor(page)


async def _quietly(coro: Awaitable[Any]) -> None:
    try:
        await coro
    except PlaywrightError:
        pass


async def _close_popup(run: CaptureRun, popup: Page) -> None:
    try:
        await popup.wait_for_load_state("commit", timeout=1000)
    except PlaywrightError:
        pass
    run.log("popup", f"pop-up window closed: {popup.url}")
    await _quietly(popup.close())


# --- settle phase -------------------------------------------------------------------------------
async def navigate(run: CaptureRun, net: NetworkMonitor) -> None:
    """Open the URL; wait for ``load`` within the settle budget (a page that never loads is timed_out)."""
    try:
        run.response = await run.page.goto(run.url, wait_until="commit", timeout=ms(run.settle_left()))
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
        await run.page.wait_for_load_state("load", timeout=ms(run.settle_left()))
    except PlaywrightTimeout:
        run.timed_out = f"the page did not finish loading within {int(run.cap * 0.6)} s"
        run.log("navigate", run.timed_out)
        return
    budget = min(float(run.options.network_idle_seconds), run.settle_left())
    quiet = await net.quiet(QUIET_SECONDS, budget)
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


async def scroll(run: CaptureRun, net: NetworkMonitor) -> None:
    """Scroll a viewport at a time to trigger lazy content (bounded by height and time), then back to the top."""
    budget = min(float(run.options.scroll_seconds), run.settle_left())
    if budget <= 0:
        run.log("scroll", "skipped: no time left")
        return
    res = await run.page.evaluate(SCROLL_JS, {"maxHeight": run.options.max_page_height,
                                              "budgetMs": int(budget * 1000), "pauseMs": SCROLL_PAUSE_MS})
    if res["steps"]:
        run.log("scroll", f"scrolled {res['steps']} steps to y={int(res['y'])} of {int(res['height'])} px"
                          + (" (time budget used up)" if res["outOfTime"] else "") + "; back to top")
    # Second quiet check (instant if nothing moved since the first): lazy content and late requests.
    if not await net.quiet(QUIET_SECONDS, min(float(run.options.network_idle_seconds), 3.0, run.settle_left())):
        run.log("wait", "network still busy after scrolling; went on")
    left = run.settle_left()
    imgs = await run.page.evaluate(IMAGES_JS, {"maxHeight": run.options.max_page_height,
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


async def screenshots(run: CaptureRun) -> None:
    """Viewport and full-page PNG; past ``max_page_height`` the full page is clipped and marked truncated."""
    try:
        await _screenshots(run)
    finally:  # let post_screenshot go on, with the viewport PNG or without it
        shot = run.artifacts.get("screenshot_viewport")
        if run.viewport_shot is not None and not run.viewport_shot.done():
            run.viewport_shot.set_result(shot.data if shot else None)


async def _screenshots(run: CaptureRun) -> None:
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
    limit = run.options.max_page_height
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


async def snapshot(run: CaptureRun) -> None:
    """Rendered HTML, MHTML (CDP Page.captureSnapshot), visible text and page metadata, read concurrently."""
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


async def post_screenshot(run: CaptureRun) -> None:
    """Screenshot of the post element alone: the stable basis for perceptual hashing (tech.md §3).

    A post inside the viewport is cut from the viewport PNG (same frame, same pixels, one browser
    round trip less); otherwise the browser renders the element's box.
    """
    found = await run.page.evaluate(POST_RECT_JS, list(run.adapter.post_selectors))
    if not found or found["width"] < 1 or found["height"] < 1:
        return
    rect = {k: found[k] for k in ("x", "y", "width", "height")}
    height = min(rect["height"], run.options.max_page_height)
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


async def pdf(run: CaptureRun) -> None:
    if not run.options.pdf:
        return
    await run.page.emulate_media(media="screen")
    run.add("pdf", await run.page.pdf(format="A4", print_background=True))
    run.log("pdf", "page printed to PDF (screen media)")


Step = Callable[..., Awaitable[None]]


async def run_step(run: CaptureRun, step: Step, *args: Any) -> bool:
    """Run one step; a failure is logged with its reason and does not stop the capture."""
    try:
        await step(run, *args)
        return True
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - any step failure is evidence of what happened, not a crash
        reason = f"{step.__name__} failed: {short_error(exc)}"
        run.log(step.__name__, reason)
        run.notes.append(reason)
        log.info("capture step %s failed for %s: %s", step.__name__, run.url, exc)
        return False


async def run_pipeline(run: CaptureRun, net: NetworkMonitor) -> None:
    """Settle, then record. Stops early only when navigation itself failed."""
    from . import walls  # walls builds on this module's run and helpers

    await run_step(run, navigate, net)
    if run.failed:
        return
    if not run.timed_out:
        await run_step(run, walls.follow_navigations, net)
        await run_step(run, walls.detect_walls, net)
        await run_step(run, walls.dismiss_consent, net)
        await run_step(run, scroll, net)
        await run_step(run, walls.follow_navigations, net)
        await run_step(run, walls.measure_cover)
    run.moves_before_recording = walls.page_moves(run)
    run.viewport_shot = asyncio.get_running_loop().create_future()
    await asyncio.gather(run_step(run, screenshots), run_step(run, snapshot), run_step(run, post_screenshot))
    await run_step(run, pdf)


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


# --- judging the result -------------------------------------------------------------------------
def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).replace("\u2019", "'").replace("\u2026", "...").casefold()


def detect_not_found(run: CaptureRun) -> None:
    """404/410/451, or tombstone wording on a short page or one without the post (tech.md §3)."""
    if run.http and run.http["status"] in NOT_FOUND_STATUSES:
        run.not_found = f"HTTP {run.http['status']}"
        return
    text = run.extracted.get("text") or ""
    folded = _fold(text)
    hit = next((t for t in run.adapter.tombstone_texts if _fold(t) in folded), None)
    if hit and (len(normalise_text(text)) <= TOMBSTONE_MAX_TEXT or not run.extracted.get("post")):
        run.not_found = f"removal text on the page: {hit!r}"


def post_info(run: CaptureRun) -> dict[str, Any]:
    """Post id and author from the URL (adapter), filled in from the page where the URL is silent."""
    ref = run.adapter.post_ref(run.page.url if run.page and run.page.url.startswith("http") else run.url)
    if ref["id"] is None:
        ref = {**ref, **{k: v for k, v in run.adapter.post_ref(run.url).items() if v}}
    post = run.extracted.get("post") or {}
    author = post.get("author") or {}
    handle, profile = ref["author_handle"], ref["author_profile_url"]
    if author.get("href") and not profile:
        profile = urljoin(run.page.url, author["href"])
    if not handle and profile:
        text = (author.get("text") or "").strip()
        segs = [s for s in urlsplit(profile).path.split("/") if s]
        handle = text if text.startswith("@") else (segs[-1] if segs else None)
    text = normalise_text(run.post_text) if run.post_text else None
    return {"id": ref["id"] or post.get("id"), "author_handle": handle, "author_profile_url": profile,
            "text_excerpt": text[:POST_EXCERPT_CHARS] if text else None}
