"""The Capturer: one long-lived Chromium (and one egress proxy) per process, one fresh context per capture.

Playwright objects are not thread-safe, so they live on a private asyncio loop in a background
thread; ``capture()`` is a blocking, thread-safe call that huey worker threads and the CLI share.
Each capture is bounded by the time cap; if even the salvage after the cap hangs, the caller
gets a ``failed`` bundle and the browser is replaced. Browsers and contexts: capture/pool.py; the
stages: capture/steps.py; the manifest and the status: capture/manifest.py (pure).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import platform
import threading
import uuid
from dataclasses import replace
from importlib import metadata
from typing import Any

from . import browser as browser_mod
from . import manifest as mf
from . import profiles as secrets_mod
from . import remote as remote_mod
from . import steps
from .adapters import adapter_for
from .bundle import EvidenceBundle
from .errors import CaptureFailed
from .events import attach_handlers
from .hashing import perceptual_hashes
from .options import CaptureOptions
from .policy import check_url
from .pool import BrowserHandle, BrowserPool
from .proxy import EgressProxy
from .run import CaptureRun, salvage_reserve, short_error, utc_now

log = logging.getLogger(__name__)

SESSION_DRAIN_SECONDS = 1.0  #: at the end, wait this long for requests still in flight before freezing the record
HARD_GRACE_SECONDS = 20.0  #: beyond the time cap, salvage + close + WARC; after that the caller gives up
SCHEMA = mf.SCHEMA
ESSENTIAL_ROLES = mf.ESSENTIAL_ROLES


class Capturer:
    """Captures URLs as evidence bundles. ``capture()`` is blocking and thread-safe; use as a context manager.

    Raises CaptureFailed from the constructor when Chromium or the proxy cannot start.
    """

    def __init__(self, options: CaptureOptions | None = None, *, prewarm: bool = True):
        """``prewarm``: keep one fresh context ready for the next capture (saves a renderer start per capture)."""
        self.options = options or CaptureOptions()
        self._slots = threading.BoundedSemaphore(max(1, self.options.concurrency))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="vaern-capture", daemon=True)
        self._closed = False
        self._proxy = EgressProxy(allowed_hosts=self.options.allowed_hosts, max_bytes=self.options.max_bytes,
                                  confdir=self.options.proxy_confdir)
        self._pool = BrowserPool(self.options, self._proxy, prewarm=prewarm)
        self._thread.start()
        try:
            self._proxy.start()
            self._call(self._pool.start(), timeout=60)
            self._loop.call_soon_threadsafe(self._pool.prepare_spare)
        except BaseException:
            self.close()
            raise

    # --- public API -----------------------------------------------------------------------------
    def capture(self, url: str, operator: str = "", *, options: CaptureOptions | None = None,
                profile: secrets_mod.CaptureProfile | None = None) -> EvidenceBundle:
        """Capture ``url`` for ``operator``; ``options`` may override per-capture limits (time cap, PDF, ...);
        ``profile``: a logged-in account's storage state for this one capture (its secrets kept out of the bundle).

        Raises CaptureRefused before any browser work; CaptureFailed only if the machinery is broken.
        """
        opts = self._per_capture(options)
        target = check_url(url, opts.allowed_hosts)
        if self._closed:
            raise CaptureFailed("the Capturer is closed")
        with self._slots:
            fut = asyncio.run_coroutine_threadsafe(self._capture(target, url, operator, opts, profile), self._loop)
            try:
                return fut.result(timeout=opts.time_cap_seconds + HARD_GRACE_SECONDS)
            except concurrent.futures.TimeoutError:
                fut.cancel()
                self._loop.call_soon_threadsafe(self._pool.retire_current, "a capture hung past its time cap")
                return _hung_bundle(url, target, operator, opts, profile)

    def open_remote(self, url: str) -> remote_mod.RemoteBrowser:
        """An interactive page on ``url`` in this Capturer's browser, behind its egress proxy (capture/remote.py).

        Raises CaptureRefused for a URL the capture policy refuses; CaptureFailed if the browser is broken.
        """
        target = check_url(url, self.options.allowed_hosts)
        if self._closed:
            raise CaptureFailed("the Capturer is closed")
        return self._call(remote_mod.open_remote(self._pool, self.options, target, self._loop), timeout=60)

    def close(self) -> None:
        """Close the browser, Playwright, the proxy and the loop thread; idempotent."""
        if self._closed:
            return
        self._closed = self._pool.closed = True
        if self._thread.is_alive():
            try:
                self._call(self._pool.shutdown(), timeout=30)
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
        return self._pool.handle.version if self._pool.handle else None

    @property
    def launches(self) -> int:
        """Browsers launched so far (restarts and crash recoveries included)."""
        return self._pool.launches

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

    # --- one capture ------------------------------------------------------------------------------
    async def _capture(self, target: str, requested: str, operator: str, opts: CaptureOptions,
                       profile: secrets_mod.CaptureProfile | None) -> EvidenceBundle:
        started = utc_now()
        lease = await self._pool.lease(opts, profile.storage_state if profile is not None else None)
        run = CaptureRun(url=target, requested_url=requested, operator=operator, options=opts,
                         adapter=adapter_for(target), context=lease.context, page=lease.page, started=started,
                         profile=profile)
        if profile is not None:
            run.log("profile", f"logged in with capture profile {profile.name!r} ({profile.account})")
        try:
            attach_handlers(run)
            cap = opts.time_cap_seconds - salvage_reserve(opts.time_cap_seconds)
            try:
                await asyncio.wait_for(steps.run_pipeline(run), timeout=max(1.0, cap - run.elapsed()))
            except asyncio.TimeoutError:
                run.timed_out = run.timed_out or f"the capture hit its {opts.time_cap_seconds} s time cap"
                run.log("timeout", run.timed_out)
                try:
                    await asyncio.wait_for(steps.salvage(run), timeout=salvage_reserve(opts.time_cap_seconds))
                except Exception as exc:  # noqa: BLE001
                    run.log("salvage", f"nothing more could be saved: {short_error(exc)}")
            basis = next((r for r in ("screenshot_post", "screenshot_viewport") if r in run.artifacts), None)
            if basis is not None:
                run.hash_task = asyncio.ensure_future(
                    asyncio.to_thread(perceptual_hashes, run.artifacts[basis].data, basis))
            if run.pending:
                await asyncio.wait(list(run.pending), timeout=1.0)
        except Exception as exc:  # noqa: BLE001 - browser died mid-capture or similar
            run.failed = run.failed or f"the browser failed during the capture: {short_error(exc)}"
            run.log("capture", run.failed)
        finally:
            # Freeze the proxy record first, then close the context off the critical path.
            record_future = asyncio.ensure_future(asyncio.to_thread(lease.session.close, SESSION_DRAIN_SECONDS))
            self._pool.end_in_background(lease)
        record = await record_future
        self._pool.prepare_spare()
        return await self._finish(run, lease.handle, record)

    async def _finish(self, run: CaptureRun, handle: BrowserHandle, record: Any) -> EvidenceBundle:
        """Decide the status, build the manifest, seal, then timestamp (failure leaves it "not timestamped")."""
        page_url = run.page.url
        mf.detect_not_found(run)
        facts = record.manifest_fields(run.url)
        warc_record, redaction = _redact(run, record, facts)
        capture_id = uuid.uuid4().hex
        base = mf.base_manifest(capture_id, run.operator, run.started, utc_now(), run.options,
                                _versions(run.options, handle), handle.user_agent, handle.args)
        try:
            warc = await asyncio.to_thread(warc_record.warc_bytes, mf.warcinfo(capture_id, run, base))
            run.add("warc", warc)
        except Exception as exc:  # noqa: BLE001
            run.notes.append(f"WARC could not be built: {short_error(exc)}")
        hashes = None
        if run.hash_task is not None:
            try:
                hashes = await run.hash_task
            except Exception as exc:  # noqa: BLE001
                run.notes.append(f"perceptual hashing failed: {short_error(exc)}")
        manifest, status = mf.url_manifest(base, run, page_url, record, facts, hashes)
        _redact_manifest(manifest, run, redaction)
        bundle = EvidenceBundle.seal(status, mf.artifacts_of(run), manifest)
        if run.options.tsa_url:
            await _timestamp(bundle, run.options)
        return bundle


def _redact(run: CaptureRun, record: Any, facts: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Secrets out before anything is sealed: the WARC's copy of the record, the main response's headers,
    and the profile's values in the page files. Returns the record for the WARC and the manifest's entry."""
    secrets = run.profile.secrets() if run.profile is not None else []
    if facts.get("http"):
        facts["http"] = {**facts["http"], "headers": secrets_mod.redact_headers(facts["http"]["headers"])}
    if run.http:
        run.http = {**run.http, "headers": secrets_mod.redact_headers(run.http["headers"])}
    masked: dict[str, int] = {}
    for role in ("html", "mhtml", "text", "pdf"):
        art = run.artifacts.get(role)
        if art is not None and secrets:
            data, n = secrets_mod.mask(art.data, secrets)
            if n:
                run.artifacts[role] = replace(art, data=data)
                masked[art.name] = n
    warc_record, counts = secrets_mod.redact_record(record, secrets)
    return warc_record, secrets_mod.describe(counts, run.profile, masked)


def _redact_manifest(manifest: dict[str, Any], run: CaptureRun, redaction: dict[str, Any]) -> None:
    """The profile used (name and account, never a value), what was redacted, and no token in an address."""
    manifest["profile"] = run.profile.describe() if run.profile is not None else None
    manifest["redaction"] = redaction
    manifest["final_url"] = secrets_mod.redact_url(manifest["final_url"])
    for key in ("redirect_chain", "navigation_chain"):
        manifest[key] = [{**hop, "url": secrets_mod.redact_url(hop["url"])} if hop.get("url") else hop
                         for hop in manifest.get(key) or []]
    if manifest.get("http"):
        manifest["http"] = {**manifest["http"], "headers": secrets_mod.redact_headers(manifest["http"]["headers"])}


def _versions(opts: CaptureOptions, handle: BrowserHandle | None) -> dict[str, str]:
    installed = {"playwright": browser_mod.playwright_version(), "python": platform.python_version(),
                 "chromium_playwright_bundled": browser_mod.bundled_chromium_version() or "unknown",
                 "imagehash": metadata.version("imagehash")}
    return mf.versions(opts, installed, handle.version if handle is not None else None)


def _hung_bundle(requested: str, target: str, operator: str, opts: CaptureOptions,
                 profile: secrets_mod.CaptureProfile | None = None) -> EvidenceBundle:
    """What the caller gets when even the salvage hung: an honest ``failed`` with no artifacts."""
    now = utc_now()
    base = mf.base_manifest(uuid.uuid4().hex, operator, now, now, opts, _versions(opts, None), None,
                            list(browser_mod.LAUNCH_ARGS))
    reason = f"the capture did not finish within {opts.time_cap_seconds + int(HARD_GRACE_SECONDS)} s; browser replaced"
    manifest = mf.hung_manifest(base, requested, target, adapter_for(target).name, reason, now)
    manifest["profile"] = profile.describe() if profile is not None else None
    return EvidenceBundle.seal("failed", [], manifest)


async def _timestamp(bundle: EvidenceBundle, opts: CaptureOptions) -> None:
    from .timestamp import TimestampError, request_timestamp

    try:
        bundle.timestamp = await asyncio.to_thread(request_timestamp, bundle.manifest_bytes, opts)
    except TimestampError as exc:
        bundle.timestamp_error = exc.reason
    except Exception as exc:  # noqa: BLE001 - a TSA outage must never lose the capture
        bundle.timestamp_error = f"timestamping failed: {short_error(exc)}"
