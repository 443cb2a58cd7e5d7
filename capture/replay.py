"""Replay a checked WACZ's page offline in Værn's browser and record it like a live capture.

The WARCs are first copied with their secrets removed (Cookie, Set-Cookie, Authorization headers): that
working copy is what the browser is served from; the original WACZ stays sealed as it came. Every
request the page makes is answered from the working copy through Playwright's routing or aborted; the
context has no other way out (service workers and WebSockets blocked, and the browser's proxy is a
local port that accepts no connection, loopback included), so nothing reaches the network. The record
phase reuses the live capture's stages (capture/steps.py: screenshots, snapshot, post screenshot).
"""
from __future__ import annotations

import asyncio
import io
import re
import socket
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from . import browser as browser_mod
from .adapters import adapter_for
from .bundle import Artifact
from .errors import CaptureFailed
from .hashing import perceptual_hashes
from .options import CaptureOptions
from .run import CaptureRun, ms, run_stage, short_error

#: request and response headers that carry a session or credentials: never served, never replayed
SECRET_HEADERS = ("cookie", "set-cookie", "set-cookie2", "authorization", "proxy-authorization")
#: not passed to the browser: the body is served decoded, whole
HOP_HEADERS = ("content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive")
MAX_LISTED = 200  #: URLs named in the manifest per list (served, blocked)
GRACE_SECONDS = 30.0  #: beyond the time cap before the replay thread is given up


# --- the working copy ---------------------------------------------------------------------------------
def strip_secrets(warc: bytes) -> tuple[bytes, dict[str, int]]:
    """A gzipped copy of ``warc`` with SECRET_HEADERS removed from every HTTP header block, and how many went."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    removed: dict[str, int] = {}
    for rec in ArchiveIterator(io.BytesIO(warc), arc2warc=True):
        http = rec.http_headers
        if http is not None:
            kept = []
            for name, value in http.headers:
                if name.lower() in SECRET_HEADERS:
                    removed[name.lower()] = removed.get(name.lower(), 0) + 1
                else:
                    kept.append((name, value))
            http = StatusAndHeaders(http.statusline, kept, protocol=http.protocol)
        payload = rec.raw_stream.read()
        warc_headers = {k: v for k, v in rec.rec_headers.headers
                        if k.lower() not in ("content-length", "content-type", "warc-block-digest",
                                             "warc-payload-digest", "warc-type")}
        new = writer.create_warc_record(rec.rec_headers.get_header("WARC-Target-URI") or "", rec.rec_type,
                                        payload=io.BytesIO(payload), length=len(payload),
                                        warc_content_type=rec.rec_headers.get_header("Content-Type") or "",
                                        warc_headers_dict=warc_headers, http_headers=http)
        writer.write_record(new)
    return out.getvalue(), dict(sorted(removed.items()))


@dataclass(frozen=True)
class Recorded:
    """One archived answer as the browser will be served it."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = field(repr=False)
    date: str | None = None


def index_warc(warc: bytes, into: dict[str, Recorded] | None = None) -> dict[str, Recorded]:
    """URL -> the first archived answer (response, resource, or a revisit of another URL's payload); a 304
    ("not modified", body in the recording browser's cache) is no answer to replay."""
    index = {} if into is None else into
    revisits: list[tuple[str, str, int, tuple[tuple[str, str], ...], str | None]] = []
    for rec in ArchiveIterator(io.BytesIO(warc), arc2warc=True):
        if rec.rec_type not in ("response", "resource", "revisit"):
            continue
        uri = urldefrag(rec.rec_headers.get_header("WARC-Target-URI") or "")[0]
        if not uri or uri in index:
            continue
        date = rec.rec_headers.get_header("WARC-Date")
        if rec.rec_type == "resource":
            ctype = rec.rec_headers.get_header("Content-Type") or "application/octet-stream"
            index[uri] = Recorded(200, (("Content-Type", ctype),), rec.content_stream().read(), date)
            continue
        http = rec.http_headers
        if http is None:
            continue
        try:
            status = int(http.get_statuscode())
        except (TypeError, ValueError):
            continue
        if status == 304:  # the recording browser's cache answered; a later full response may follow
            continue
        headers = tuple((k, v) for k, v in http.headers if k.lower() not in HOP_HEADERS + SECRET_HEADERS)
        if rec.rec_type == "revisit":
            target = rec.rec_headers.get_header("WARC-Refers-To-Target-URI")
            if target:
                revisits.append((uri, urldefrag(target)[0], status, headers, date))
            continue
        index[uri] = Recorded(status, headers, rec.content_stream().read(), date)
    for uri, target, status, headers, date in revisits:
        if uri not in index and target in index:
            index[uri] = Recorded(status, headers, index[target].body, date)
    return index


def main_page(pages: list[dict[str, Any]], datapackage: dict[str, Any],
              index: dict[str, Recorded]) -> tuple[str | None, str]:
    """The page to replay and where that choice came from."""
    if pages:
        return pages[0]["url"], "pages/pages.jsonl (first page)"
    if isinstance(datapackage.get("mainPageURL"), str):
        return datapackage["mainPageURL"], "datapackage.json mainPageURL"
    for uri, rec in index.items():
        ctype = next((v for k, v in rec.headers if k.lower() == "content-type"), "")
        if rec.status == 200 and "html" in ctype.lower():
            return uri, "the first HTML page in the WARC"
    return None, "no page found"


# --- the replay -----------------------------------------------------------------------------------
@dataclass
class Replay:
    """What the replay produced and what it did."""

    url: str
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    actions: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    served: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    http_status: int | None = None
    title: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    post_text: str | None = None
    post_selector: str | None = None
    final_url: str | None = None
    platform: str | None = None  #: the platform adapter of the replayed URL (capture/adapters.py)
    perceptual_hashes: dict[str, str] | None = None
    browser_version: str | None = None
    user_agent: str | None = None


def replay(index: dict[str, Recorded], url: str, options: CaptureOptions, operator: str) -> Replay:
    """Replay ``url`` from ``index`` in a fresh browser on a private thread (callable from any thread,
    loop or not). CaptureFailed when the browser cannot run at all."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = asyncio.run(_replay(index, url, options, operator))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=work, name="vaern-wacz-replay", daemon=True)
    thread.start()
    thread.join(options.time_cap_seconds + GRACE_SECONDS)
    if thread.is_alive():
        raise CaptureFailed(f"the WACZ replay did not finish within {options.time_cap_seconds + GRACE_SECONDS:.0f} s")
    if "error" in box:
        exc = box["error"]
        raise exc if isinstance(exc, CaptureFailed) else CaptureFailed(f"the WACZ replay failed: {short_error(exc)}")
    return box["result"]


def _dead_port() -> socket.socket:
    """A bound, never-listening local socket: connections to it are refused, and nobody else can take the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


async def _replay(index: dict[str, Recorded], url: str, options: CaptureOptions, operator: str) -> Replay:
    from playwright.async_api import async_playwright

    from . import steps

    out = Replay(url=url)
    dead = _dead_port()
    try:
        async with async_playwright() as pw:
            try:
                executable = browser_mod.find_chromium(options.chromium_path, pw.chromium.executable_path)
                browser = await pw.chromium.launch(
                    executable_path=executable, headless=True,
                    args=[*browser_mod.LAUNCH_ARGS, "--proxy-bypass-list=<-loopback>"],
                    proxy={"server": f"http://127.0.0.1:{dead.getsockname()[1]}", "bypass": "<-loopback>"},
                    handle_sigint=False, handle_sigterm=False, handle_sighup=False)
            except CaptureFailed:
                raise
            except Exception as exc:  # noqa: BLE001
                raise CaptureFailed(f"Chromium could not be started: {short_error(exc)}") from exc
            out.browser_version = browser.version
            cdp = await browser.new_browser_cdp_session()
            agent = (await cdp.send("Browser.getVersion"))["userAgent"]
            await cdp.detach()
            out.user_agent = options.user_agent or agent.replace("HeadlessChrome", "Chrome")  # as live captures
            try:
                context = await browser.new_context(
                    viewport={"width": options.viewport_width, "height": options.viewport_height},
                    device_scale_factor=1, locale=options.locale, timezone_id=options.timezone,
                    service_workers="block", accept_downloads=False, user_agent=out.user_agent)
                await _wire(context, index, out)
                page = await context.new_page()
                run = CaptureRun(url=url, requested_url=url, operator=operator, options=options,
                                 adapter=adapter_for(url), context=context, page=page)
                out.platform = run.adapter.name
                try:
                    await asyncio.wait_for(_record(run, out, steps), timeout=max(1.0, float(options.time_cap_seconds)))
                except asyncio.TimeoutError:
                    out.notes.append(f"the replay hit its {options.time_cap_seconds} s time cap")
                    run.log("timeout", out.notes[-1])
                out.actions = run.actions
                out.artifacts = dict(run.artifacts)
                out.final_url = page.url
                await context.close()
            finally:
                await browser.close()
    finally:
        dead.close()
    basis = next((r for r in ("screenshot_post", "screenshot_viewport") if r in out.artifacts), None)
    if basis is not None:
        out.perceptual_hashes = await asyncio.to_thread(perceptual_hashes, out.artifacts[basis].data, basis)
    return out


async def _wire(context: Any, index: dict[str, Recorded], out: Replay) -> None:
    """Answer every request from the archive or abort it; close every WebSocket."""

    async def answer(route: Any) -> None:
        request = route.request
        rec = index.get(urldefrag(request.url)[0]) if request.method in ("GET", "HEAD") else None
        if rec is None:
            if len(out.blocked) < MAX_LISTED:
                out.blocked.append(f"{request.method} {request.url}"[:2000])
            await route.abort("blockedbyclient")
            return
        if len(out.served) < MAX_LISTED:
            out.served.append(request.url[:2000])
        headers: dict[str, str] = {}
        for name, value in rec.headers:
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        await route.fulfill(status=rec.status, headers=headers, body=rec.body)

    await context.route(re.compile(r".*"), answer)
    await context.route_web_socket(re.compile(r".*"), lambda ws: ws.close())


async def _record(run: CaptureRun, out: Replay, steps: Any) -> None:
    """Open the page from the archive, let it settle briefly, then the live capture's record stages."""
    try:
        response = await run.page.goto(run.url, wait_until="load", timeout=ms(run.cap * 0.5))
        out.http_status = response.status if response is not None else None
        run.log("replay", f"opened {run.url} from the archive (HTTP {out.http_status})")
    except Exception as exc:  # noqa: BLE001 - record what rendered
        run.log("replay", f"the page did not load fully from the archive: {short_error(exc)}")
        out.notes.append(run.actions[-1]["detail"])
    try:
        await run.page.wait_for_load_state("networkidle", timeout=ms(min(5.0, run.cap * 0.1)))
    except Exception:  # noqa: BLE001 - a page that keeps polling: go on with what rendered
        run.log("wait", "requests still going after 5 s; went on")
    run.viewport_shot = asyncio.get_running_loop().create_future()
    await asyncio.gather(*(run_stage(run, stage) for stage in steps.RECORD))
    out.notes.extend(run.notes)
    extracted = run.extracted or {}
    out.title = extracted.get("title")
    meta = extracted.get("meta") or {}
    out.meta = {k: meta[k] for k in sorted(meta)}
    out.post_text = run.post_text
    post = extracted.get("post") or {}
    out.post_selector = post.get("selector")
