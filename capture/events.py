"""What the page does on its own while Værn captures it: dialogs, downloads, pop-ups and requests in flight.

Handlers only log and refuse (STYLE.md §7); the network monitor tells the stages when the page has gone
quiet, so no stage needs a fixed sleep.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable

from playwright.async_api import Download, Page, Request
from playwright.async_api import Error as PlaywrightError

from .run import CaptureRun

#: No request in flight for this long = network quiet. Checked after load and again right before
#: recording (so a late request gets a second chance); Playwright's networkidle waits 0.5 s once.
QUIET_SECONDS = 0.1
LONG_REQUEST_SECONDS = 3.0  #: requests in flight longer than this stop counting (long polling)


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
    """Dismiss dialogs, refuse downloads and close pop-ups, logging each; note every main-document request.

    The network monitor goes on the run record (``run.net``), where the stages that wait for quiet find it.
    """
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
    run.net = NetworkMonitor(page)
    return run.net


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
