"""The browser pool: one long-lived Chromium per Capturer, restarted when due or sick, and one spare context.

Everything here runs on the Capturer's private asyncio loop (capture/engine.py). A capture *leases* a
fresh context + page with its own proxy session; a retired browser closes when its last capture is done.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Browser, Playwright, async_playwright

from . import browser as browser_mod
from .errors import CaptureFailed
from .options import CaptureOptions
from .proxy import EgressProxy
from .run import short_error

log = logging.getLogger(__name__)

CLOSE_SECONDS = 5.0  #: closing a context longer than this means the browser is sick: replace it


@dataclass
class BrowserHandle:
    """One launched browser; retired handles close when their last capture is done."""

    browser: Browser
    version: str
    user_agent: str
    args: list[str]
    captures: int = 0
    active: int = 0
    retired: bool = False
    crashed: bool = False


@dataclass
class Lease:
    """A fresh context + page with its own proxy session, ready for one capture."""

    handle: BrowserHandle
    session: Any
    context: Any
    page: Any
    key: tuple[Any, ...]


def context_key(opts: CaptureOptions) -> tuple[Any, ...]:
    return (opts.viewport_width, opts.viewport_height, opts.locale, opts.timezone, opts.max_bytes)


class BrowserPool:
    """Launches, leases, retires and closes browsers; keeps one context ready when ``prewarm``."""

    def __init__(self, options: CaptureOptions, proxy: EgressProxy, *, prewarm: bool):
        self.options = options
        self.proxy = proxy
        self.prewarm = prewarm
        self.closed = False  #: set by the Capturer when it closes: no new spare contexts
        self.pw: Playwright | None = None
        self.handle: BrowserHandle | None = None
        self.launch_lock: asyncio.Lock | None = None
        self.executable: str | None = None
        self.launches = 0  #: browsers launched so far (restarts and crash recoveries included)
        #: One context kept ready: opening a page spawns a renderer, the biggest fixed cost of a capture.
        self.spare: Lease | None = None
        self.spare_task: asyncio.Future[None] | None = None
        self.closing: set[asyncio.Future[Any]] = set()

    async def start(self) -> None:
        self.launch_lock = asyncio.Lock()
        try:
            self.pw = await async_playwright().start()
            self.executable = browser_mod.find_chromium(self.options.chromium_path, self.pw.chromium.executable_path)
            await self._launch()
        except CaptureFailed:
            raise
        except Exception as exc:
            raise CaptureFailed(f"Chromium could not be started: {short_error(exc)}") from exc

    async def _launch(self) -> BrowserHandle:
        browser = await self.pw.chromium.launch(
            executable_path=self.executable, headless=True, args=list(browser_mod.LAUNCH_ARGS),
            # Browser-level traffic (no context proxy) goes to the proxy's base port, which refuses it all.
            proxy=self.proxy.launch_proxy(), handle_sigint=False, handle_sigterm=False,
            handle_sighup=False)
        browser_mod.lower_descendants(browser_mod.CAPTURE_NICENESS)  # the driver, the browser and its helpers
        cdp = await browser.new_browser_cdp_session()
        try:
            info = await cdp.send("Browser.getVersion")
            try:
                args = (await cdp.send("Browser.getBrowserCommandLine"))["arguments"]
            except Exception:  # noqa: BLE001 - only available with --enable-automation
                args = list(browser_mod.LAUNCH_ARGS)
        finally:
            await cdp.detach()
        ua = self.options.user_agent or info["userAgent"].replace("HeadlessChrome", "Chrome")
        handle = BrowserHandle(browser=browser, version=browser.version, user_agent=ua, args=args)
        self.launches += 1
        browser_mod.check_version_match(browser.version, browser_mod.bundled_chromium_version())

        def on_disconnected(_: Browser) -> None:
            handle.crashed = not handle.retired
            if handle.crashed:
                log.warning("Chromium disconnected unexpectedly; it will be relaunched")
            if self.handle is handle:
                self.handle = None

        browser.on("disconnected", on_disconnected)
        self.handle = handle
        return handle

    async def _acquire(self) -> BrowserHandle:
        async with self.launch_lock:
            handle = self.handle
            if handle is not None and handle.captures >= max(1, self.options.restart_after):
                self.retire(handle, f"restart after {handle.captures} captures")
                handle = None
            if handle is None or not handle.browser.is_connected():
                try:
                    handle = await self._launch()
                except Exception as exc:  # noqa: BLE001
                    raise CaptureFailed(f"Chromium could not be (re)started: {short_error(exc)}") from exc
            handle.captures += 1
            handle.active += 1
            return handle

    def retire(self, handle: BrowserHandle, why: str) -> None:
        if handle.retired:
            return
        log.info("retiring Chromium: %s", why)
        handle.retired = True
        if self.handle is handle:
            self.handle = None
        if self.spare is not None and self.spare.handle is handle:
            spare, self.spare = self.spare, None
            asyncio.ensure_future(self._discard(spare))
        elif handle.active == 0:
            asyncio.ensure_future(self._close_browser(handle))

    def retire_current(self, why: str) -> None:
        if self.handle is not None:
            self.retire(self.handle, why)

    async def _release(self, handle: BrowserHandle) -> None:
        handle.active -= 1
        if handle.retired and handle.active == 0:
            await self._close_browser(handle)

    @staticmethod
    async def _close_browser(handle: BrowserHandle) -> None:
        try:
            await asyncio.wait_for(handle.browser.close(), CLOSE_SECONDS * 2)
        except Exception as exc:  # noqa: BLE001 - a dead browser is already closed
            log.info("closing a retired browser: %s", exc)

    async def shutdown(self) -> None:
        if self.closing:
            await asyncio.wait(list(self.closing), timeout=CLOSE_SECONDS * 2)
        if self.spare_task is not None:
            await asyncio.wait([self.spare_task], timeout=10)
        if self.spare is not None:
            spare, self.spare = self.spare, None
            await self._discard(spare)
        if self.handle is not None:
            self.handle.retired = True
            await self._close_browser(self.handle)
            self.handle = None
        if self.pw is not None:
            await self.pw.stop()
            self.pw = None

    # --- one capture's context --------------------------------------------------------------------
    def end_in_background(self, lease: Lease) -> None:
        """Close a used context off the critical path (the Capturer waits for these when it closes)."""
        task = asyncio.ensure_future(self._end_context(lease.context, lease.handle))
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)

    async def _end_context(self, context: Any, handle: BrowserHandle) -> None:
        try:
            await asyncio.wait_for(context.close(), CLOSE_SECONDS)
        except Exception as exc:  # noqa: BLE001
            log.warning("a browser context did not close cleanly (%s); replacing the browser", exc)
            self.retire(handle, "a context would not close")
        await self._release(handle)

    async def lease(self, opts: CaptureOptions, storage_state: dict[str, Any] | None = None) -> Lease:
        """The spare context if it suits these options and its browser is alive, else a new one.

        With a profile's ``storage_state`` always a new context (the spare stays for the next capture).
        """
        if storage_state is not None:
            return await self._new_lease(opts, storage_state)
        if self.spare is None and self.spare_task is not None:
            await asyncio.wait([self.spare_task], timeout=CLOSE_SECONDS)
        spare, self.spare = self.spare, None
        if spare is not None:
            if spare.key == context_key(opts) and not spare.handle.retired and await _alive(spare.page):
                return spare
            await self._discard(spare)
        return await self._new_lease(opts)

    async def new_lease(self, opts: CaptureOptions) -> Lease:
        """Always a new context with its own proxy session (the remote browser, capture/remote.py)."""
        return await self._new_lease(opts)

    async def _new_lease(self, opts: CaptureOptions, storage_state: dict[str, Any] | None = None) -> Lease:
        session = await asyncio.to_thread(self.proxy.open_session, opts.max_bytes)
        try:
            handle, context, page = await self._open_context(session, opts, storage_state)
        except BaseException:
            await asyncio.to_thread(session.close)
            raise
        return Lease(handle, session, context, page, context_key(opts))

    def prepare_spare(self) -> None:
        """Open the next capture's context in the background (default options only)."""
        if not self.prewarm or self.closed or self.spare is not None or self.spare_task is not None:
            return

        async def make() -> None:
            try:
                session = await asyncio.to_thread(self.proxy.open_session, self.options.max_bytes)
                try:
                    handle, context, page = await self._open_context(session, self.options)
                except BaseException:
                    await asyncio.to_thread(session.close)
                    raise
                lease = Lease(handle, session, context, page, context_key(self.options))
                if self.spare is None and not self.closed and not handle.retired:
                    self.spare = lease
                else:
                    await self._discard(lease)
            except Exception as exc:  # noqa: BLE001 - the next capture opens its own context
                log.info("could not prepare a spare browser context: %s", exc)
            finally:
                self.spare_task = None

        self.spare_task = asyncio.ensure_future(make())

    async def discard(self, lease: Lease) -> None:
        """Close a lease in order: its context (and so its connections), then its proxy session."""
        await self._discard(lease)

    async def _discard(self, lease: Lease) -> None:
        try:
            await asyncio.wait_for(lease.context.close(), CLOSE_SECONDS)
        except Exception:  # noqa: BLE001 - a dead browser's contexts are gone anyway
            pass
        await self._release(lease.handle)
        await asyncio.to_thread(lease.session.close)

    async def _open_context(self, session: Any, opts: CaptureOptions,
                            storage_state: dict[str, Any] | None = None) -> tuple[BrowserHandle, Any, Any]:
        """A fresh context + page; a browser found dead here (crash not yet reported) is replaced once."""
        extra = {"storage_state": storage_state} if storage_state is not None else {}
        for attempt in (1, 2):
            handle = await self._acquire()
            try:
                context = await handle.browser.new_context(
                    proxy=session.playwright_proxy(), ignore_https_errors=True,
                    viewport={"width": opts.viewport_width, "height": opts.viewport_height},
                    device_scale_factor=1, locale=opts.locale, timezone_id=opts.timezone,
                    user_agent=handle.user_agent, service_workers="block", accept_downloads=False, **extra)
            except Exception as exc:  # noqa: BLE001
                await self._release(handle)
                self.retire(handle, f"new_context failed: {short_error(exc)}")
                if attempt == 2:
                    raise CaptureFailed(f"could not open a browser context: {short_error(exc)}") from exc
                continue
            try:
                page = await context.new_page()
                browser_mod.lower_descendants(browser_mod.CAPTURE_NICENESS)  # the page's new renderer
                return handle, context, page
            except Exception as exc:  # noqa: BLE001
                await self._release(handle)
                self.retire(handle, f"new_page failed: {short_error(exc)}")
                try:
                    await asyncio.wait_for(context.close(), CLOSE_SECONDS)
                except Exception:  # noqa: BLE001 - the browser is being replaced anyway
                    pass
                if attempt == 2:
                    raise CaptureFailed(f"could not open a page: {short_error(exc)}") from exc
        raise AssertionError("unreachable")


async def _alive(page: Any) -> bool:
    """A spare page whose browser crashed since it was opened answers nothing."""
    try:
        await asyncio.wait_for(page.evaluate("1"), 2.0)
        return True
    except Exception:  # noqa: BLE001
        return False
