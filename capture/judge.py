"""The capture status, decided from what the capture measured: a pure function, no browser.

A status is a statement in a court file, so each one says only what was checked:
``ok`` only when the submitted page (or a same-site redirect) was recorded with nothing over it;
a page that left the site, a wall still covering the post, or Værn's own block page is never ``ok``.
One status is chosen, most serious first; every reason found is kept in the notes.
"""
from __future__ import annotations

import ipaddress
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: Most serious first. ``failed`` appears twice in effect: nothing recorded (before everything but
#: a policy block) and essential files missing (after the walls).
STATUSES = ("blocked_by_policy", "failed", "navigated_away", "not_found", "login_wall", "consent_wall",
            "timed_out", "consent_accepted", "truncated", "consent_dismissed", "ok")
#: statuses whose capture did not see the post: the employee is asked for a photo of the screen
POST_NOT_SEEN = ("blocked_by_policy", "failed", "navigated_away", "not_found", "login_wall", "consent_wall")

#: An overlay hiding at least this share of the content in the window, or of the post's visible area, is a wall.
WALL_VIEWPORT_SHARE = 0.30
WALL_POST_SHARE = 0.25
NOT_FOUND_STATUSES = (404, 410, 451)


#: the note an ``ok`` capture carries when coverage could not be measured (reports must not say "uncovered")
COVER_UNMEASURED = "whether a layer covered the page could not be measured (see the actions)"


@dataclass(frozen=True)
class Consent:
    """What Værn did about a consent dialog. ``clicks``: the kinds clicked, in order."""

    found: str | None = None  #: CMP name, "generic", or None
    clicks: tuple[str, ...] = ()  #: "reject" | "close" | "accept"
    still_visible: bool = False  #: the dialog was still shown after the last click (or no button existed)


@dataclass(frozen=True)
class Cover:
    """How much an overlay hid when the page was recorded (shares 0.0–1.0; None = not measured)."""

    viewport: float | None = None  #: share of the content the window shows (capture/page_js.py COVER_JS)
    post: float | None = None  #: share of the post's visible area under an overlay; None if no post in view
    text: str = ""  #: the covering layer's text (start), for the notes


@dataclass(frozen=True)
class Login:
    """Login-wall evidence from the page and the addresses it went through."""

    login_url: str | None = None  #: first address on the way whose path is a login page
    password: bool = False  #: a visible password field
    password_in_overlay: bool = False  #: ... inside a dialog or fixed layer
    phrase: str | None = None  #: the first login phrase found in the page's text


@dataclass(frozen=True)
class Facts:
    submitted_url: str
    final_url: str
    chain: tuple[str, ...] = ()  #: every main-document address in order (redirects and the page's own moves)
    http_status: int | None = None
    main_blocked: str | None = None  #: the submitted document (or its redirect) was refused by the egress policy
    final_blocked: str | None = None  #: the page the browser ended on is Værn's own block page
    recorded: bool = True  #: at least a screenshot or the HTML was recorded
    failed: str | None = None
    missing: tuple[str, ...] = ()  #: essential artifacts that are missing
    not_found: str | None = None
    timed_out: str | None = None
    truncated: str | None = None  #: reason (page cut at the height limit, or the byte limit hit)
    post_found: bool = False
    text_chars: int = 0
    login: Login = field(default_factory=Login)
    max_login_text_chars: int = 3000
    consent: Consent = field(default_factory=Consent)
    cover: Cover = field(default_factory=Cover)
    #: platform aliases: hosts that are one site (x.com and twitter.com)
    same_site_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    status: str
    reasons: tuple[str, ...]  #: every finding, most serious first (they go into the manifest's notes)


# -- sites ------------------------------------------------------------------------------------------
def site_of(url: str) -> str:
    """The registrable domain of ``url`` (``www.facebook.com`` -> ``facebook.com``); an IP address is its own site."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if "." not in host:
        return host
    from publicsuffix2 import get_sld  # the Public Suffix List (its bundled copy; no network)

    sld = get_sld(host)
    return sld if sld and "." in sld else ".".join(host.split(".")[-2:])  # unknown suffix: last two labels


def same_site(a: str, b: str, aliases: tuple[str, ...] = ()) -> bool:
    """Same registrable domain, or both on one platform's list of domains."""
    sa, sb = site_of(a), site_of(b)
    if sa == sb:
        return True
    return bool(aliases) and sa in aliases and sb in aliases


# -- login walls ------------------------------------------------------------------------------------
def fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).replace("\u2019", "'").replace("\u00a0", " ").casefold()


def find_phrase(text: str, phrases: tuple[str, ...]) -> str | None:
    """The first phrase that occurs in ``text`` (case-insensitive), or None."""
    folded = fold(text)
    return next((p for p in phrases if fold(p) in folded), None)


def login_wall(f: Facts) -> str | None:
    """Why the page is a login wall (rules in capture/login_walls.toml), or None."""
    lg = f.login
    if lg.login_url:
        return f"went to a login page ({lg.login_url})"
    if lg.password and lg.password_in_overlay:
        return "a login form covers the page" + (f" ({lg.phrase!r})" if lg.phrase else "")
    if not f.post_found and lg.phrase and (lg.password or f.text_chars <= f.max_login_text_chars):
        status = f"HTTP {f.http_status}" if f.http_status is not None else "the page"
        return f"{status} served a login page instead of the post ({lg.phrase!r}; no post element found)"
    if lg.password and lg.phrase:
        return f"the page asks for a login ({lg.phrase!r}, password field)"
    if f.http_status in (401, 403) and lg.password:
        return f"HTTP {f.http_status} with a login form"
    return None


# -- the status -------------------------------------------------------------------------------------
def _percent(share: float | None) -> str:
    return "unknown" if share is None else f"{round(share * 100)} %"


def consent_wall(f: Facts) -> str | None:
    """Why a dialog or overlay still covers the content after Værn's attempts, or None."""
    c, cov = f.consent, f.cover
    covering = ((cov.viewport or 0.0) >= WALL_VIEWPORT_SHARE or (cov.post or 0.0) >= WALL_POST_SHARE)
    what = f" ({cov.text[:120]!r})" if cov.text else ""
    if covering:
        tried = f"after clicking {', '.join(c.clicks)}" if c.clicks else "and Værn found no button to close it"
        return (f"an overlay still covers {_percent(cov.viewport)} of the visible content and "
                f"{_percent(cov.post)} of the post {tried}{what}")
    if c.found and c.still_visible and cov.post is None and cov.viewport is None:
        # coverage could not be measured: a dialog that stayed counts as a wall (never claim "uncovered")
        tried = f"after clicking {', '.join(c.clicks)}" if c.clicks else "with no button to close it"
        return f"the consent dialog ({c.found}) is still shown {tried}; how much it covers was not measured"
    return None


def http_error(f: Facts) -> str | None:
    s = f.http_status
    if s is None or s < 400 or s in NOT_FOUND_STATUSES:
        return None
    return f"the server refused access (HTTP {s})" if s in (401, 403) else f"the server answered HTTP {s}"


def judge(f: Facts) -> Verdict:
    """The one status of a URL capture and every reason behind it."""
    reasons: list[str] = []

    def note(text: str | None) -> None:
        if text and text not in reasons:
            reasons.append(text)

    # Where the browser ended up decides what the files show at all.
    left = None
    if f.main_blocked:
        note(f"main document blocked by the egress policy: {f.main_blocked}")
    if f.final_blocked:
        note(f"the page moved on to an address the egress policy blocks; the final page is Værn's block page: "
             f"{f.final_blocked}")
    if not same_site(f.submitted_url, f.final_url, f.same_site_hosts):
        left = (f"the page left the submitted site ({site_of(f.submitted_url)}) and ended on {f.final_url}"
                + (f" (via {' → '.join(f.chain)})" if len(f.chain) > 1 else ""))
        note(left)
    lw = login_wall(f)
    cw = consent_wall(f)
    login_or_notfound = bool(lw or f.not_found)
    failed = f.failed or (None if login_or_notfound else http_error(f))
    for reason in (failed, f.not_found, lw, cw, f.timed_out):
        note(reason)
    if f.main_blocked or f.final_blocked:
        return Verdict("blocked_by_policy", tuple(reasons))
    if not f.recorded:
        note(failed or "nothing could be captured before the time cap; the browser context was closed")
        return Verdict("failed", tuple(reasons))
    if left:
        return Verdict("navigated_away", tuple(reasons))
    for status, reason in (("not_found", f.not_found), ("login_wall", lw), ("consent_wall", cw),
                           ("timed_out", f.timed_out)):
        if reason:
            return Verdict(status, tuple(reasons))
    if failed or f.missing:
        if f.missing:
            note(f"missing artifacts: {', '.join(f.missing)}")
        return Verdict("failed", tuple(reasons))
    c = f.consent
    if f.cover.viewport is None:
        note(COVER_UNMEASURED)
    if c.found and "accept" in c.clicks and not c.still_visible:
        note("no way to reject or close the consent dialog worked: Værn accepted cookies to see the content")
        return Verdict("consent_accepted", tuple(reasons))
    if f.truncated:
        note(f.truncated)
        return Verdict("truncated", tuple(reasons))
    if c.found and c.clicks and not c.still_visible:
        return Verdict("consent_dismissed", tuple(reasons))
    if c.found and c.still_visible:
        note(f"a consent dialog ({c.found}) stayed on the page but covered "
             f"{_percent(f.cover.viewport)} of the visible content and {_percent(f.cover.post)} of the post")
    return Verdict("ok", tuple(reasons))
