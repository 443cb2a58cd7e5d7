"""The URL capture's manifest and the facts its status is judged on: pure functions, no browser.

The engine hands over the run record (only its plain fields are read, never its page), the address the
page ended on, the proxy's ``ProxyRecord`` and the browser's identity; capture/judge.py turns the facts
into the status. Kept apart from the engine so the manifest's shape and the status can be tested with
records built by hand (tests/test_capture_manifest.py).
"""
from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from .hashing import normalise_text, text_sha256
from .judge import Consent, Cover, Facts, Login, find_phrase, judge
from .options import CaptureOptions
from .run import ROLE_FILES, CaptureRun, iso_utc, page_moves
from .wall_rules import login_rules

LOCAL_TZ = ZoneInfo("Europe/Copenhagen")
SCHEMA = "vaern.manifest/1"
ESSENTIAL_ROLES = ("screenshot_full", "screenshot_viewport", "html", "mhtml", "text", "warc")
POST_EXCERPT_CHARS = 280
TOMBSTONE_MAX_TEXT = 3000  #: tombstone wording is trusted on short pages only (auto-archiver's rule)
NOT_FOUND_STATUSES = (404, 410, 451)


# --- the parts every manifest has ----------------------------------------------------------------
def base_manifest(capture_id: str, operator: str, started: datetime, ended: datetime, opts: CaptureOptions,
                  versions: dict[str, str], user_agent: str | None, browser_args: list[str]) -> dict[str, Any]:
    return {
        "schema": SCHEMA, "kind": "url", "capture_id": capture_id, "operator": operator,
        "started_at_utc": iso_utc(started), "ended_at_utc": iso_utc(ended),
        "started_at_local": started.astimezone(LOCAL_TZ).isoformat(timespec="microseconds"),
        "ended_at_local": ended.astimezone(LOCAL_TZ).isoformat(timespec="microseconds"),
        "versions": versions,
        "user_agent": user_agent,
        "viewport": {"width": opts.viewport_width, "height": opts.viewport_height, "device_scale_factor": 1},
        "locale": opts.locale, "timezone": opts.timezone,
        "browser_args": list(browser_args),
        "perceptual_hashes": None, "text_sha256": None, "actions": [], "notes": [],
    }


def versions(opts: CaptureOptions, installed: dict[str, str], chromium: str | None) -> dict[str, str]:
    """``installed``: the libraries' versions as found; ``chromium``: the running browser's (None if none)."""
    out = dict(installed)
    if chromium is not None:
        out["chromium"] = chromium
    out.update({k: str(v) for k, v in opts.versions.items()})
    out.setdefault("vaern", "unknown")
    return out


def warcinfo(capture_id: str, run: CaptureRun, base: dict[str, Any]) -> dict[str, Any]:
    return {"software": f"Værn {run.options.versions.get('vaern', '')}".strip(),
            "capture_id": capture_id, "requested_url": run.requested_url, "operator": run.operator,
            "started_at_utc": base["started_at_utc"]}


def hung_manifest(base: dict[str, Any], requested: str, target: str, platform: str, reason: str,
                  at: datetime) -> dict[str, Any]:
    """What is known when even the salvage hung: nothing but the request and the reason."""
    manifest = dict(base)
    manifest.update({
        "requested_url": requested, "final_url": target, "redirect_chain": [], "http": None, "server_ip": None,
        "tls": None, "title": None, "meta": {}, "platform": platform, "post": None,
        "blocked_requests": [], "warc": None, "truncated": None, "notes": [reason],
        "actions": [{"at": iso_utc(at), "step": "capture", "detail": reason}],
    })
    return manifest


# --- the URL capture -------------------------------------------------------------------------------
def url_manifest(base: dict[str, Any], run: CaptureRun, page_url: str, record: Any, facts: dict[str, Any],
                 hashes: Any) -> tuple[dict[str, Any], str]:
    """The manifest (without its artifact list) and the status, from the run, the proxy's record and its
    ``facts`` (``record.manifest_fields``). Adds the judge's reasons to ``run.notes``."""
    # The proxy's view (the server's own status and headers, redirects as sent) wins over the
    # browser's; the browser's fills in where the proxy has none (e.g. its own 403 for a block).
    http = facts["http"] or run.http
    chain = facts["redirect_chain"] or run.redirect_chain
    meta = run.extracted.get("meta") or {}
    final_url = final_url_of(run, page_url)
    manifest = dict(base)
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
        "post": post_info(run, page_url),
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
    status = decide_status(run, record, main_exchange(record, run, page_url), http, final_url)
    manifest["notes"] = list(run.notes)
    return manifest, status


def artifacts_of(run: CaptureRun) -> list[Any]:
    """The run's files in the manifest's fixed order."""
    return [run.artifacts[r] for r in ROLE_FILES if r in run.artifacts]


def main_exchange(record: Any, run: CaptureRun, page_url: str) -> Any:
    """The proxy's view of the main document (following redirects), or None if it never got there."""
    for url in (run.url, page_url):
        if url.startswith(("http:", "https:")):
            main = record.main_exchange(url)
            if main is not None:
                return main
    return None


def final_url_of(run: CaptureRun, page_url: str) -> str:
    """Where the browser ended: its address, or (on an error page) the last document it asked for."""
    if page_url.startswith(("http:", "https:")):
        return page_url
    return run.nav_requests[-1][0] if run.nav_requests else run.url


def navigation_chain(run: CaptureRun, record: Any) -> list[dict[str, Any]]:
    """Every main-document address in order, how the browser got there, and the server's answer."""
    out = []
    for i, (url, redirect) in enumerate(run.nav_requests):
        via = "submitted" if i == 0 else ("redirect" if redirect else "page")
        ex = record.main_exchange(url)
        hop = ex.chain[0] if ex is not None and ex.chain else {}
        out.append({"url": url, "via": via, "status": hop.get("status"), "blocked": hop.get("blocked")})
    return out


def post_info(run: CaptureRun, page_url: str) -> dict[str, Any]:
    """Post id and author from the URL (adapter), filled in from the page where the URL is silent."""
    ref = run.adapter.post_ref(page_url if page_url.startswith("http") else run.url)
    if ref["id"] is None:
        ref = {**ref, **{k: v for k, v in run.adapter.post_ref(run.url).items() if v}}
    post = run.extracted.get("post") or {}
    author = post.get("author") or {}
    handle, profile = ref["author_handle"], ref["author_profile_url"]
    if author.get("href") and not profile:
        profile = urljoin(page_url, author["href"])
    if not handle and profile:
        text = (author.get("text") or "").strip()
        segs = [s for s in urlsplit(profile).path.split("/") if s]
        handle = text if text.startswith("@") else (segs[-1] if segs else None)
    text = normalise_text(run.post_text) if run.post_text else None
    return {"id": ref["id"] or post.get("id"), "author_handle": handle, "author_profile_url": profile,
            "text_excerpt": text[:POST_EXCERPT_CHARS] if text else None}


# --- the status ------------------------------------------------------------------------------------
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


def decide_status(run: CaptureRun, record: Any, main: Any, http: dict[str, Any] | None, final_url: str,
                  essential: tuple[str, ...] = ESSENTIAL_ROLES) -> str:
    """The facts the capture gathered, judged by capture/judge.py; its reasons go into ``notes``."""
    if page_moves(run) > run.moves_before_recording:
        run.notes.append("the page moved on by itself while it was being recorded; the files may show "
                         "different pages (see navigation_chain)")
    verdict = judge(status_facts(run, record, main, http, final_url, essential))
    for reason in verdict.reasons:
        if reason not in run.notes:
            run.notes.append(reason)
    return verdict.status


def status_facts(run: CaptureRun, record: Any, main: Any, http: dict[str, Any] | None, final_url: str,
                 essential: tuple[str, ...] = ESSENTIAL_ROLES) -> Facts:
    """What capture/judge.py needs, read from the run record and the proxy's record."""
    text = run.extracted.get("text") or ""
    hops = [h["url"] for h in run.redirect_chain] + [u for u, _ in run.nav_requests] + [final_url]
    final_blocked = None
    moved_to = [u for u, redirect in run.nav_requests[1:] if not redirect]
    if moved_to:
        last = record.main_exchange(moved_to[-1])
        if last is not None and last.blocked is not None:
            final_blocked = last.blocked.describe().get("reason")
    truncated = None
    if run.over_limit:
        truncated = run.over_limit
    elif run.truncated:
        truncated = (f"the page is {run.truncated['page_height']} px tall; the full-page screenshot is cut at "
                     f"{run.truncated['captured_height']} px")
    cover = run.cover or {}
    return Facts(
        submitted_url=run.url, final_url=final_url, chain=tuple(dict.fromkeys(u for u, _ in run.nav_requests)),
        http_status=http["status"] if http else None,
        main_blocked=(main.blocked.describe().get("reason") or "blocked") if main is not None and main.blocked else None,
        final_blocked=final_blocked,
        recorded=any(r in run.artifacts for r in ("screenshot_viewport", "screenshot_full", "html")),
        failed=run.failed, missing=tuple(r for r in essential if r not in run.artifacts),
        not_found=run.not_found, timed_out=run.timed_out, truncated=truncated,
        post_found=bool(run.extracted.get("post")), text_chars=len(normalise_text(text)),
        login=Login(login_url=next((u for u in hops if run.adapter.is_login_url(u)), None),
                    password=bool(run.walls.get("password")), password_in_overlay=bool(run.walls.get("overlay")),
                    phrase=find_phrase(text, run.adapter.login_texts)),
        max_login_text_chars=login_rules(run.adapter.name).max_text_chars,
        consent=Consent(found=run.consent, clicks=tuple(run.consent_clicks), still_visible=run.consent_still),
        cover=Cover(viewport=cover.get("viewport"), post=cover.get("post"), text=cover.get("text") or ""),
        same_site_hosts=run.adapter.hosts)
