"""The Capturer: one long-lived Chromium (and one egress proxy) per process, one fresh context per capture.

Playwright objects are not thread-safe, so they live on a private asyncio loop in a background
thread; ``capture()`` is a blocking, thread-safe call that huey worker threads and the CLI share.
Each capture is bounded by the time cap; if even the salvage after the cap hangs, the caller
gets a ``failed`` bundle and the browser is replaced.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import platform
import threading
import uuid
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, Playwright, async_playwright

from . import browser as browser_mod
from . import steps
from .adapters import adapter_for
from .bundle import EvidenceBundle
from .errors import CaptureFailed
from .hashing import perceptual_hashes, text_sha256
from .options import CaptureOptions
from .policy import check_url
from .proxy import EgressProxy
from .walls import decide_status, final_url_of, navigation_chain

log = logging.getLogger(__name__)

LOCAL_TZ = ZoneInfo("Europe/Copenhagen")
SCHEMA = "vaern.manifest/1"
SESSION_DRAIN_SECONDS = 1.0  #: at the end, wait this long for requests still in flight before freezing the record
CLOSE_SECONDS = 5.0  #: closing a context longer than this means the browser is sick: replace it
HARD_GRACE_SECONDS = 20.0  #: beyond the time cap, salvage + close + WARC; after that the caller gives up
ESSENTIAL_ROLES = ("screenshot_full", "screenshot_viewport", "html", "mhtml", "text", "warc")


@dataclass
class _BrowserHandle:
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
class _Lease:
    """A fresh context + page with its own proxy session, ready for one capture."""

    handle: _BrowserHandle
    session: Any
    context: Any
    page: Any
    key: tuple[Any, ...]


def _context_key(opts: CaptureOptions) -> tuple[Any, ...]:
    return (opts.viewport_width, opts.viewport_height, opts.locale, opts.timezone, opts.max_bytes)


class Capturer:
    """Captures URLs as evidence bundles. ``capture()`` is blocking and thread-safe; use as a context manager.

    Raises CaptureFailed from the constructor when Chromium or the proxy cannot start.
    """

    def __init__(self, options: CaptureOptions | None = None, *, prewarm: bool = True):
        """``prewarm``: keep one fresh context ready for the next capture (saves a renderer start per capture)."""
        self.options = options or CaptureOptions()
        self._prewarm = prewarm
        self._slots = threading.BoundedSemaphore(max(1, self.options.concurrency))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="vaern-capture", daemon=True)
        self._closed = False
        self._pw: Playwright | None = None
        self._handle: _BrowserHandle | None = None
        self._launch_lock: asyncio.Lock | None = None
        self._executable: str | None = None
        self.launches = 0  #: browsers launched so far (restarts and crash recoveries included)
        #: One context kept ready: opening a page spawns a renderer, the biggest fixed cost of a capture.
        self._spare: _Lease | None = None
        self._spare_task: asyncio.Future[None] | None = None
        self._closing: set[asyncio.Future[Any]] = set()
        self._proxy = EgressProxy(allowed_hosts=self.options.allowed_hosts, max_bytes=self.options.max_bytes,
                                  confdir=self.options.proxy_confdir)
        self._thread.start()
        try:
            self._proxy.start()
            self._call(self._start(), timeout=60)
            self._loop.call_soon_threadsafe(self._prepare_spare)
        except BaseException:
            self.close()
            raise

    # --- public API -----------------------------------------------------------------------------
    def capture(self, url: str, operator: str = "", *, options: CaptureOptions | None = None) -> EvidenceBundle:
        """Capture ``url`` for ``operator``; ``options`` may override per-capture limits (time cap, PDF, ...).

        Raises CaptureRefused before any browser work; CaptureFailed only if the machinery is broken.
        """
        opts = self._per_capture(options)
        target = check_url(url, opts.allowed_hosts)
        if self._closed:
            raise CaptureFailed("the Capturer is closed")
        with self._slots:
            fut = asyncio.run_coroutine_threadsafe(self._capture(target, url, operator, opts), self._loop)
            try:
                return fut.result(timeout=opts.time_cap_seconds + HARD_GRACE_SECONDS)
            except concurrent.futures.TimeoutError:
                fut.cancel()
                self._loop.call_soon_threadsafe(self._retire_current, "a capture hung past its time cap")
                return _hung_bundle(url, target, operator, opts)

    def close(self) -> None:
        """Close the browser, Playwright, the proxy and the loop thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            try:
                self._call(self._shutdown(), timeout=30)
            except Exception as exc:  # noqa: BLE001 - closing must not raise over the real error
                log.warning("closing the browser failed: %s", exc)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if not self._loop.is_running():
            self._loop.close()
        try:
            self._proxy.stop()
        except Exception as exc:  # noqa: BLE001
            log.warning("stopping the egress proxy failed: %s", exc)

    def __enter__(self) -> "Capturer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def browser_version(self) -> str | None:
        return self._handle.version if self._handle else None

    # --- loop plumbing ------------------------------------------------------------------------
    def _call(self, coro: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=timeout)

    def _per_capture(self, options: CaptureOptions | None) -> CaptureOptions:
        """Per-capture overrides keep the process-wide browser settings of this Capturer."""
        if options is None:
            return self.options
        return replace(options, chromium_path=self.options.chromium_path, allowed_hosts=self.options.allowed_hosts,
                       user_agent=self.options.user_agent, restart_after=self.options.restart_after,
                       concurrency=self.options.concurrency)

    async def _start(self) -> None:
        self._launch_lock = asyncio.Lock()
        try:
            self._pw = await async_playwright().start()
            self._executable = browser_mod.find_chromium(self.options.chromium_path,
                                                         self._pw.chromium.executable_path)
            await self._launch()
        except CaptureFailed:
            raise
        except Exception as exc:
            raise CaptureFailed(f"Chromium could not be started: {steps.short_error(exc)}") from exc

    async def _launch(self) -> _BrowserHandle:
        browser = await self._pw.chromium.launch(
            executable_path=self._executable, headless=True, args=list(browser_mod.LAUNCH_ARGS),
            # Browser-level traffic (no context proxy) goes to the proxy's base port, which refuses it all.
            proxy=self._proxy.launch_proxy(), handle_sigint=False, handle_sigterm=False,
            handle_sighup=False)
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
        handle = _BrowserHandle(browser=browser, version=browser.version, user_agent=ua, args=args)
        self.launches += 1
        browser_mod.check_version_match(browser.version, browser_mod.bundled_chromium_version())

        def on_disconnected(_: Browser) -> None:
            handle.crashed = not handle.retired
            if handle.crashed:
                log.warning("Chromium disconnected unexpectedly; it will be relaunched")
            if self._handle is handle:
                self._handle = None

        browser.on("disconnected", on_disconnected)
        self._handle = handle
        return handle

    async def _acquire(self) -> _BrowserHandle:
        async with self._launch_lock:
            handle = self._handle
            if handle is not None and handle.captures >= max(1, self.options.restart_after):
                self._retire(handle, f"restart after {handle.captures} captures")
                handle = None
            if handle is None or not handle.browser.is_connected():
                try:
                    handle = await self._launch()
                except Exception as exc:  # noqa: BLE001
                    raise CaptureFailed(f"Chromium could not be (re)started: {steps.short_error(exc)}") from exc
            handle.captures += 1
            handle.active += 1
            return handle

    def _retire(self, handle: _BrowserHandle, why: str) -> None:
        if handle.retired:
            return
        log.info("retiring Chromium: %s", why)
        handle.retired = True
        if self._handle is handle:
            self._handle = None
        if self._spare is not None and self._spare.handle is handle:
            spare, self._spare = self._spare, None
            asyncio.ensure_future(self._discard(spare))
        elif handle.active == 0:
            asyncio.ensure_future(self._close_browser(handle))

    def _retire_current(self, why: str) -> None:
        if self._handle is not None:
            self._retire(self._handle, why)

    async def _release(self, handle: _BrowserHandle) -> None:
        handle.active -= 1
        if handle.retired and handle.active == 0:
            await self._close_browser(handle)

    @staticmethod
    async def _close_browser(handle: _BrowserHandle) -> None:
        try:
            await asyncio.wait_for(handle.browser.close(), CLOSE_SECONDS * 2)
        except Exception as exc:  # noqa: BLE001 - a dead browser is already closed
            log.info("closing a retired browser: %s", exc)

    async def _shutdown(self) -> None:
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=CLOSE_SECONDS * 2)
        if self._spare_task is not None:
            await asyncio.wait([self._spare_task], timeout=10)
        if self._spare is not None:
            spare, self._spare = self._spare, None
            await self._discard(spare)
        if self._handle is not None:
            self._handle.retired = True
            await self._close_browser(self._handle)
            self._handle = None
        if self._pw is not None:
            await self._pw.stop()
            self._pw = None

    # --- one capture ------------------------------------------------------------------------------
    async def _capture(self, target: str, requested: str, operator: str, opts: CaptureOptions) -> EvidenceBundle:
        started = steps.utc_now()
        lease = await self._lease(opts)
        handle, session, context, page = lease.handle, lease.session, lease.context, lease.page
        run = steps.CaptureRun(url=target, requested_url=requested, operator=operator, options=opts,
                               adapter=adapter_for(target), context=context, page=page, started=started)
        try:
            net = steps.attach_handlers(run)
            cap = opts.time_cap_seconds - steps.salvage_reserve(opts.time_cap_seconds)
            try:
                await asyncio.wait_for(steps.run_pipeline(run, net), timeout=max(1.0, cap - run.elapsed()))
            except asyncio.TimeoutError:
                run.timed_out = run.timed_out or f"the capture hit its {opts.time_cap_seconds} s time cap"
                run.log("timeout", run.timed_out)
                try:
                    await asyncio.wait_for(steps.salvage(run), timeout=steps.salvage_reserve(opts.time_cap_seconds))
                except Exception as exc:  # noqa: BLE001
                    run.log("salvage", f"nothing more could be saved: {steps.short_error(exc)}")
            basis = next((r for r in ("screenshot_post", "screenshot_viewport") if r in run.artifacts), None)
            if basis is not None:
                run.hash_task = asyncio.ensure_future(
                    asyncio.to_thread(perceptual_hashes, run.artifacts[basis].data, basis))
            if run.pending:
                await asyncio.wait(list(run.pending), timeout=1.0)
        except Exception as exc:  # noqa: BLE001 - browser died mid-capture or similar
            run.failed = run.failed or f"the browser failed during the capture: {steps.short_error(exc)}"
            run.log("capture", run.failed)
        finally:
            # Freeze the proxy record first, then close the context off the critical path.
            record_future = asyncio.ensure_future(asyncio.to_thread(session.close, SESSION_DRAIN_SECONDS))
            self._background(self._end_context(context, handle))
        record = await record_future
        self._prepare_spare()
        return await self._finish(run, handle, record)

    def _background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _end_context(self, context: Any, handle: _BrowserHandle) -> None:
        try:
            await asyncio.wait_for(context.close(), CLOSE_SECONDS)
        except Exception as exc:  # noqa: BLE001
            log.warning("a browser context did not close cleanly (%s); replacing the browser", exc)
            self._retire(handle, "a context would not close")
        await self._release(handle)

    async def _lease(self, opts: CaptureOptions) -> _Lease:
        """The spare context if it suits these options and its browser is alive, else a new one."""
        if self._spare is None and self._spare_task is not None:
            await asyncio.wait([self._spare_task], timeout=CLOSE_SECONDS)
        spare, self._spare = self._spare, None
        if spare is not None:
            if spare.key == _context_key(opts) and not spare.handle.retired and await _alive(spare.page):
                return spare
            await self._discard(spare)
        session = await asyncio.to_thread(self._proxy.open_session, opts.max_bytes)
        try:
            handle, context, page = await self._open_context(session, opts)
        except BaseException:
            await asyncio.to_thread(session.close)
            raise
        return _Lease(handle, session, context, page, _context_key(opts))

    def _prepare_spare(self) -> None:
        """Open the next capture's context in the background (default options only)."""
        if not self._prewarm or self._closed or self._spare is not None or self._spare_task is not None:
            return

        async def make() -> None:
            try:
                session = await asyncio.to_thread(self._proxy.open_session, self.options.max_bytes)
                try:
                    handle, context, page = await self._open_context(session, self.options)
                except BaseException:
                    await asyncio.to_thread(session.close)
                    raise
                lease = _Lease(handle, session, context, page, _context_key(self.options))
                if self._spare is None and not self._closed and not handle.retired:
                    self._spare = lease
                else:
                    await self._discard(lease)
            except Exception as exc:  # noqa: BLE001 - the next capture opens its own context
                log.info("could not prepare a spare browser context: %s", exc)
            finally:
                self._spare_task = None

        self._spare_task = asyncio.ensure_future(make())

    async def _discard(self, lease: _Lease) -> None:
        try:
            await asyncio.wait_for(lease.context.close(), CLOSE_SECONDS)
        except Exception:  # noqa: BLE001 - a dead browser's contexts are gone anyway
            pass
        await self._release(lease.handle)
        await asyncio.to_thread(lease.session.close)

    async def _open_context(self, session: Any, opts: CaptureOptions) -> tuple[_BrowserHandle, Any, Any]:
        """A fresh context + page; a browser found dead here (crash not yet reported) is replaced once."""
        for attempt in (1, 2):
            handle = await self._acquire()
            try:
                context = await handle.browser.new_context(
                    proxy=session.playwright_proxy(), ignore_https_errors=True,
                    viewport={"width": opts.viewport_width, "height": opts.viewport_height},
                    device_scale_factor=1, locale=opts.locale, timezone_id=opts.timezone,
                    user_agent=handle.user_agent, service_workers="block", accept_downloads=False)
            except Exception as exc:  # noqa: BLE001
                await self._release(handle)
                self._retire(handle, f"new_context failed: {steps.short_error(exc)}")
                if attempt == 2:
                    raise CaptureFailed(f"could not open a browser context: {steps.short_error(exc)}") from exc
                continue
            try:
                return handle, context, await context.new_page()
            except Exception as exc:  # noqa: BLE001
                await self._release(handle)
                self._retire(handle, f"new_page failed: {steps.short_error(exc)}")
                try:
                    await asyncio.wait_for(context.close(), CLOSE_SECONDS)
                except Exception:  # noqa: BLE001 - the browser is being replaced anyway
                    pass
                if attempt == 2:
                    raise CaptureFailed(f"could not open a page: {steps.short_error(exc)}") from exc
        raise AssertionError("unreachable")

    async def _finish(self, run: steps.CaptureRun, handle: _BrowserHandle, record: Any) -> EvidenceBundle:
        """Decide the status, build the manifest, seal, then timestamp (failure leaves it "not timestamped")."""
        steps.detect_not_found(run)
        main = _main_exchange(record, run)
        facts = record.manifest_fields(run.url)
        capture_id = uuid.uuid4().hex
        ended = steps.utc_now()
        manifest = _base_manifest(capture_id, run.operator, run.started, ended, run.options, handle)
        warcinfo = {"software": f"Værn {run.options.versions.get('vaern', '')}".strip(),
                    "capture_id": capture_id, "requested_url": run.requested_url, "operator": run.operator,
                    "started_at_utc": manifest["started_at_utc"]}
        try:
            warc = await asyncio.to_thread(record.warc_bytes, warcinfo)
            run.add("warc", warc)
        except Exception as exc:  # noqa: BLE001
            run.notes.append(f"WARC could not be built: {steps.short_error(exc)}")
        hashes = None
        if run.hash_task is not None:
            try:
                hashes = await run.hash_task
            except Exception as exc:  # noqa: BLE001
                run.notes.append(f"perceptual hashing failed: {steps.short_error(exc)}")
        # The proxy's view (the server's own status and headers, redirects as sent) wins over the
        # browser's; the browser's fills in where the proxy has none (e.g. its own 403 for a block).
        http = facts["http"] or run.http
        chain = facts["redirect_chain"] or run.redirect_chain
        post = steps.post_info(run) if run.page is not None else None
        meta = run.extracted.get("meta") or {}
        final_url = final_url_of(run)
        manifest.update({
            "requested_url": run.requested_url,
            "final_url": final_url,
            "redirect_chain": chain,
            "navigation_chain": navigation_chain(run, record),
            "http": http,
            "server_ip": facts["server_ip"],
            "tls": facts["tls"],
            "title": run.extracted.get("title"),
            "meta": {k: meta[k] for k in sorted(meta)},
            "platform": run.adapter.name,
            "post": post,
            "perceptual_hashes": hashes,
            "text_sha256": text_sha256(run.post_text),
            "actions": run.actions,
            "blocked_requests": facts["blocked_requests"],
            "warc": facts["warc"] if "warc" in run.artifacts else None,
            "truncated": run.truncated,
        })
        if record.failed:
            run.notes.append(f"{len(record.failed)} request(s) failed upstream (see the WARC for what arrived)")
        if record.over_limit:
            run.over_limit = (f"the capture reached its download limit of {run.options.max_bytes} bytes; "
                              "later responses were cut or refused")
        status = decide_status(run, record, main, http, final_url, ESSENTIAL_ROLES)
        manifest["notes"] = list(run.notes)
        artifacts = [run.artifacts[r] for r in steps.ROLE_FILES if r in run.artifacts]
        bundle = EvidenceBundle.seal(status, artifacts, manifest)
        if run.options.tsa_url:
            await _timestamp(bundle, run.options)
        return bundle


async def _alive(page: Any) -> bool:
    """A spare page whose browser crashed since it was opened answers nothing."""
    try:
        await asyncio.wait_for(page.evaluate("1"), 2.0)
        return True
    except Exception:  # noqa: BLE001
        return False


def _main_exchange(record: Any, run: steps.CaptureRun) -> Any:
    """The proxy's view of the main document (following redirects), or None if it never got there."""
    for url in (run.url, run.page.url):
        if url.startswith(("http:", "https:")):
            main = record.main_exchange(url)
            if main is not None:
                return main
    return None


def _versions(opts: CaptureOptions, handle: _BrowserHandle | None) -> dict[str, str]:
    versions = {"playwright": browser_mod.playwright_version(), "python": platform.python_version(),
                "chromium_playwright_bundled": browser_mod.bundled_chromium_version() or "unknown",
                "imagehash": metadata.version("imagehash")}
    if handle is not None:
        versions["chromium"] = handle.version
    versions.update({k: str(v) for k, v in opts.versions.items()})
    versions.setdefault("vaern", "unknown")
    return versions


def _base_manifest(capture_id: str, operator: str, started: Any, ended: Any, opts: CaptureOptions,
                   handle: _BrowserHandle | None) -> dict[str, Any]:
    return {
        "schema": SCHEMA, "kind": "url", "capture_id": capture_id, "operator": operator,
        "started_at_utc": steps.iso_utc(started), "ended_at_utc": steps.iso_utc(ended),
        "started_at_local": started.astimezone(LOCAL_TZ).isoformat(timespec="microseconds"),
        "ended_at_local": ended.astimezone(LOCAL_TZ).isoformat(timespec="microseconds"),
        "versions": _versions(opts, handle),
        "user_agent": handle.user_agent if handle else None,
        "viewport": {"width": opts.viewport_width, "height": opts.viewport_height, "device_scale_factor": 1},
        "locale": opts.locale, "timezone": opts.timezone,
        "browser_args": list(handle.args) if handle else list(browser_mod.LAUNCH_ARGS),
        "perceptual_hashes": None, "text_sha256": None, "actions": [], "notes": [],
    }


def _hung_bundle(requested: str, target: str, operator: str, opts: CaptureOptions) -> EvidenceBundle:
    """What the caller gets when even the salvage hung: an honest ``failed`` with no artifacts."""
    now = steps.utc_now()
    manifest = _base_manifest(uuid.uuid4().hex, operator, now, now, opts, None)
    reason = f"the capture did not finish within {opts.time_cap_seconds + int(HARD_GRACE_SECONDS)} s; browser replaced"
    manifest.update({
        "requested_url": requested, "final_url": target, "redirect_chain": [], "http": None, "server_ip": None,
        "tls": None, "title": None, "meta": {}, "platform": adapter_for(target).name, "post": None,
        "blocked_requests": [], "warc": None, "truncated": None, "notes": [reason],
        "actions": [{"at": steps.iso_utc(now), "step": "capture", "detail": reason}],
    })
    return EvidenceBundle.seal("failed", [], manifest)


async def _timestamp(bundle: EvidenceBundle, opts: CaptureOptions) -> None:
    from .timestamp import TimestampError, request_timestamp

    try:
        bundle.timestamp = await asyncio.to_thread(request_timestamp, bundle.manifest_bytes, opts)
    except TimestampError as exc:
        bundle.timestamp_error = exc.reason
    except Exception as exc:  # noqa: BLE001 - a TSA outage must never lose the capture
        bundle.timestamp_error = f"timestamping failed: {steps.short_error(exc)}"
