"""Comparing a re-capture with the original capture: the verdict rules of a re-check (pure, no I/O).

``removed`` only on positive evidence (HTTP 404/410/451, the platform's removal text or deletion
redirect from tracker/workflow/rules/removal_signs.toml); a missing post element with the post's text still
on the page is ``still_online``; nothing to go by is ``uncertain``; a capture that could not see the
page is ``unreachable``. tracker/workflow/recheck.py applies the two-agreeing rule and stores the result.
Each reason is stored as its code and English sentence (REASONS); ``danish_reason`` reads a stored sentence
back in Danish (REASONS_DA, and the wordings stored before codes) for the Danish audit sentences.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from string import Formatter
from typing import Any
from urllib.parse import urlsplit

from tracker.workflow.removal_signs import RemovalSigns, fold, load_removal_signs

STILL_ONLINE, CHANGED, REMOVED_PENDING, REMOVED, UNREACHABLE, UNCERTAIN = (
    "still_online", "changed", "removed_pending", "removed", "unreachable", "uncertain")
#: verdicts that say nothing about the post (skipped when two removals must agree)
NO_INFORMATION = (UNREACHABLE, UNCERTAIN)
#: capture statuses of an original capture that show the post, so a re-check can be compared with it
BASELINE_STATUSES = ("ok", "consent_dismissed", "consent_accepted", "truncated")
#: capture statuses of a re-capture that saw the page (the post, or the platform's answer in its place)
SEEN_STATUSES = (*BASELINE_STATUSES, "not_found")
#: capture statuses of a re-capture that could not see the page; anything not in SEEN_STATUSES counts so too
UNSEEN_STATUSES = ("login_wall", "consent_wall", "navigated_away", "blocked_by_policy", "timed_out", "failed")
REMOVED_HTTP = (404, 410, 451)
#: shortest post text (characters, normalised) whose presence on a page is taken as the post being there
MIN_TEXT_CHARS = 20
#: 64-bit pHash/dHash distance up to which two post images are "the same" (tech.md §3: 0 same,
#: 1–10 variation; a different post with the same photo scored 4, so images only corroborate)
HASH_THRESHOLD = 8
#: platforms that send a logged-out visitor to the home page instead of the post (platforms.md §4)
HOME_REDIRECT_IS_LOGIN = ("instagram",)

#: why a verdict was reached: code → English sentence ({names} from the finding's details)
REASONS = {
    "capture_incomplete": "the capture did not complete ({state})",
    "login_wall": "a login page stood in place of the post, so the capture could not see it",
    "consent_wall": "a cookie or consent dialog still covered the page, so the capture could not see the post",
    "navigated_away": "the page moved on to another site, so the capture could not see the post",
    "blocked_by_policy": "the page led to an address Værn's capture policy blocks, so the capture could not see it",
    "timed_out": "the capture ran out of time before it could see the page",
    "not_seen": "the capture ended with status {status} and could not see the page",
    "capture_failed": "the capture failed ({what}), so it could not see the page",
    "http_gone": "the server answered HTTP {http_status}: the post's address no longer exists",
    "http_withheld": "the server answered HTTP 451: the post is withheld for legal reasons and cannot be seen from here",
    "removal_text": "the page shows the platform's removal text \"{removal_text}\" and not the post's text",
    "deletion_redirect": "the address now leads to {final_url}, where the platform sends deleted posts",
    "home_is_login": "the address now leads to the home page, which {platform} shows logged-out visitors",
    "post_online": "the post is online as captured",
    "no_comparison": "the page answers; the original capture found no post element or text to compare with",
    "text_changed": "the post's text differs from the original capture",
    "picture_changed": "the post's text is the same but its picture differs",
    "text_on_page": ("the post's text is still on the page; the element Værn looked for is gone "
                     "(the site's markup changed)"),
    "page_text_on_page": ("the original capture found no post element; the longest passages of its page "
                          "text are still on the page"),
    "no_sign": ("the page answers, but neither the post element, nor the post's text, nor a removal sign "
                "is on it"),
    "no_sign_home": ("the address now leads to the site's home page, which this site is not known to do "
                     "for deleted posts; the post is not on it"),
    "leader_removed": "the leader compared the two screenshots and decided the post is removed",
    "leader_online": "the leader compared the two screenshots and decided the post is still online",
}

#: the Danish of each reason (same codes and {names}), for the Danish audit sentences and reports; what is
#: stored stays the English sentence of REASONS
REASONS_DA = {
    "capture_incomplete": "sikringen blev ikke fuldført ({state})",
    "login_wall": "en login-side stod i stedet for opslaget, så sikringen kunne ikke se det",
    "consent_wall": "en cookie- eller samtykkedialog dækkede stadig siden, så sikringen kunne ikke se opslaget",
    "navigated_away": "siden skiftede til et andet websted, så sikringen kunne ikke se opslaget",
    "blocked_by_policy": ("siden førte til en adresse, som Værns sikringsregler blokerer, så sikringen kunne "
                          "ikke se den"),
    "timed_out": "sikringen løb tør for tid, før den kunne se siden",
    "not_seen": "sikringen endte med status {status} og kunne ikke se siden",
    "capture_failed": "sikringen mislykkedes ({what}), så den kunne ikke se siden",
    "http_gone": "serveren svarede HTTP {http_status}: opslagets adresse findes ikke længere",
    "http_withheld": "serveren svarede HTTP 451: opslaget er tilbageholdt af retlige grunde og kan ikke ses herfra",
    "removal_text": "siden viser platformens fjernelsestekst \"{removal_text}\" og ikke opslagets tekst",
    "deletion_redirect": "adressen fører nu til {final_url}, hvor platformen sender slettede opslag hen",
    "home_is_login": "adressen fører nu til forsiden, som {platform} viser besøgende, der ikke er logget ind",
    "post_online": "opslaget er online som sikret",
    "no_comparison": "siden svarer; den oprindelige sikring fandt intet opslagselement eller tekst at sammenligne med",
    "text_changed": "opslagets tekst afviger fra den oprindelige sikring",
    "picture_changed": "opslagets tekst er den samme, men dets billede afviger",
    "text_on_page": ("opslagets tekst står stadig på siden; det element, Værn ledte efter, er væk "
                     "(webstedets opbygning er ændret)"),
    "page_text_on_page": ("den oprindelige sikring fandt intet opslagselement; de længste afsnit af dens "
                          "sidetekst står stadig på siden"),
    "no_sign": ("siden svarer, men hverken opslagselementet, opslagets tekst eller et tegn på fjernelse "
                "står på den"),
    "no_sign_home": ("adressen fører nu til webstedets forside, hvilket webstedet ikke vides at gøre ved "
                     "slettede opslag; opslaget er ikke på den"),
    "leader_removed": "lederen sammenlignede de to skærmbilleder og vurderede, at opslaget er fjernet",
    "leader_online": "lederen sammenlignede de to skærmbilleder og vurderede, at opslaget stadig er online",
}
#: reasons as stored before reason codes (migration 0007), English → Danish; wordings that did not change
#: since are found in REASONS
EARLIER_REASONS_DA = {
    "a login wall stood in front of the page": "en login-væg stod foran siden",
    "the capture ended {status}": "sikringen endte med {status}",
    "the server answered HTTP {http_status}": "serveren svarede HTTP {http_status}",
    "the capture failed ({what})": "sikringen mislykkedes ({what})",
    "the page shows the platform's removal text": "siden viser platformens fjernelsestekst",
    "redirected to the home page ({platform} does that to logged-out visitors)":
        "viderestillet til forsiden ({platform} gør det ved besøgende, der ikke er logget ind)",
    "the address now leads to the site's home page": "adressen fører nu til webstedets forside",
    "the page answers; the original capture found no post element to compare":
        "siden svarer; den oprindelige sikring fandt intet opslagselement at sammenligne med",
    "the page answers but the post element is gone": "siden svarer, men opslagselementet er væk",
}
#: English values Værn itself puts into a reason, in Danish (platform texts, addresses and codes stay as they are)
REASON_VALUES_DA = {"no answer from the server": "intet svar fra serveren", "unknown": "ukendt"}


@dataclass(frozen=True)
class Finding:
    """What one re-capture shows compared with the baseline: a verdict before the two-agreeing rule."""

    verdict: str  #: still_online | changed | removed | unreachable | uncertain
    code: str  #: a key of REASONS
    details: dict[str, Any]

    @property
    def reason(self) -> str:
        return reason_text(self.code, self.details)


def reason_text(code: str, details: dict[str, Any]) -> str:
    """The English sentence of a reason code, filled from ``details`` (a missing value reads "unknown")."""
    class _Known(dict):
        def __missing__(self, key: str) -> str:
            return "unknown"
    return REASONS.get(code, code).format_map(_Known({k: v for k, v in details.items() if v is not None}))



def _pattern(template: str) -> re.Pattern[str]:
    """A stored sentence of ``template``: its text as is, each {name} any value."""
    parts = [re.escape(text) + (f"(?P<{name}>.+?)" if name else "")
             for text, name, _, _ in Formatter().parse(template)]
    return re.compile("".join(parts), re.DOTALL)


#: (code or None, English pattern, Danish template): the current wordings, then the earlier ones
_READINGS = [(code, _pattern(en), REASONS_DA[code]) for code, en in REASONS.items()] + \
    [(None, _pattern(en), da) for en, da in EARLIER_REASONS_DA.items()]


def danish_reason(stored: str, code: str | None = None) -> str | None:
    """The Danish of a stored English reason (any wording Værn has stored); None for a text it does not know.

    A known ``code`` is tried first; only a stored text that matches a wording is translated, so a reason
    is never guessed from its code alone.
    """
    readings = sorted(_READINGS, key=lambda r: r[0] != code) if code in REASONS else _READINGS
    for _, pattern, danish in readings:
        if found := pattern.fullmatch(stored.strip()):
            return danish.format_map({k: REASON_VALUES_DA.get(v, v) for k, v in found.groupdict().items()})
    return None

# -- comparing two captures (pure) -----------------------------------------------------------------
def hash_distance(a: str | None, b: str | None) -> int | None:
    """Bits that differ between two 64-bit hashes written as 16 hex digits; None if one is missing."""
    if not a or not b:
        return None
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def has_post(manifest: dict[str, Any] | None) -> bool:
    """The capture found the post element (its text or its own screenshot)."""
    if not manifest:
        return False
    hashes = manifest.get("perceptual_hashes") or {}
    return bool(manifest.get("text_sha256")) or hashes.get("basis") == "screenshot_post"


def post_excerpt(manifest: dict[str, Any] | None) -> str | None:
    """The start of the post's text from a capture (manifest ``post.text_excerpt``), if long enough to search for."""
    text = ((manifest or {}).get("post") or {}).get("text_excerpt")
    return text if text and len(fold(text)) >= MIN_TEXT_CHARS else None


def _longest_lines(text: str | None, count: int = 3) -> list[str]:
    lines = sorted({fold(line) for line in (text or "").splitlines()}, key=len, reverse=True)
    return [line for line in lines[:count] if len(line) >= 2 * MIN_TEXT_CHARS]


def _is_home(url: str | None) -> bool:
    return bool(url) and urlsplit(url).path in ("", "/") and not urlsplit(url).query


def compare(baseline: dict[str, Any] | None, manifest: dict[str, Any] | None, *,
            state: str = "done", status: str | None = None, error: str | None = None,
            page_text: str | None = None, baseline_text: str | None = None,
            signs: RemovalSigns | None = None, platform: str | None = None) -> Finding:
    """Compare a re-capture with the baseline: manifests, job state, capture status, the pages' visible text.

    ``platform`` is the platform directory's id for the URL (removal signs are looked up under it);
    ``signs`` default to the shipped removal signs.
    """
    state = getattr(state, "value", state)
    if state != "done" or manifest is None:
        return Finding(UNREACHABLE, "capture_incomplete", {"state": state, "error": error})
    signs = signs if signs is not None else load_removal_signs()
    status = status or manifest.get("status")
    http = (manifest.get("http") or {}).get("status")
    final_url = manifest.get("final_url")
    platform = platform or manifest.get("platform")
    details: dict[str, Any] = {"status": status, "http_status": http, "final_url": final_url, "platform": platform}
    if status in UNSEEN_STATUSES and status != "failed":
        return Finding(UNREACHABLE, status, details)
    if status not in SEEN_STATUSES and status != "failed":
        return Finding(UNREACHABLE, "not_seen", details)
    if status == "failed" or http is None or (http >= 400 and http not in REMOVED_HTTP):
        details["what"] = f"HTTP {http}" if http else "no answer from the server"
        return Finding(UNREACHABLE, "capture_failed", details)
    if http in REMOVED_HTTP:
        return Finding(REMOVED, "http_withheld" if http == 451 else "http_gone", details)

    excerpt = post_excerpt(baseline)
    text_there = bool(excerpt) and fold(excerpt) in fold(page_text or "")
    details["post_text_on_page"] = text_there if excerpt else None
    final_path = urlsplit(final_url).path if final_url else None
    requested = (baseline or {}).get("final_url") or (baseline or {}).get("requested_url")
    redirect = signs.deletion_redirect(platform, final_path)
    if redirect and not (requested and urlsplit(requested).path.startswith(redirect)):
        details["deletion_redirect"] = redirect
        return Finding(REMOVED, "deletion_redirect", details)
    removal = signs.removal_text_on(platform, page_text)
    # the text counts when the post's own text is not there: checked, or no post element to carry it
    if removal and not text_there and (excerpt or not has_post(manifest)):
        details["removal_text"] = removal
        return Finding(REMOVED, "removal_text", details)
    if status == "not_found":  # the capture's own tombstone list; Værn's list (with sources) did not confirm it
        details["capture_said_not_found"] = True
    home = _is_home(final_url) and not _is_home(requested)
    if home and platform in HOME_REDIRECT_IS_LOGIN:
        return Finding(UNREACHABLE, "home_is_login", details)

    if not has_post(baseline):
        details["comparable"] = False
        passages = _longest_lines(baseline_text)
        if text_there or (passages and all(p in fold(page_text or "") for p in passages)):
            return Finding(STILL_ONLINE, "page_text_on_page", details)
        return Finding(UNCERTAIN, "no_sign_home" if home else ("no_sign" if passages else "no_comparison"), details)
    if not has_post(manifest):
        if text_there:
            return Finding(STILL_ONLINE, "text_on_page", details)
        return Finding(UNCERTAIN, "no_sign_home" if home else "no_sign", details)
    base_hashes = baseline.get("perceptual_hashes") or {}  # type: ignore[union-attr]
    new_hashes = manifest.get("perceptual_hashes") or {}
    same_basis = base_hashes.get("basis") == new_hashes.get("basis") == "screenshot_post"
    phash = hash_distance(base_hashes.get("phash"), new_hashes.get("phash")) if same_basis else None
    dhash = hash_distance(base_hashes.get("dhash"), new_hashes.get("dhash")) if same_basis else None
    same_text = baseline.get("text_sha256") == manifest.get("text_sha256")  # type: ignore[union-attr]
    details.update(same_text=same_text, phash_distance=phash, dhash_distance=dhash)
    if not same_text:
        return Finding(CHANGED, "text_changed", details)
    if (phash is not None and phash > HASH_THRESHOLD) or (dhash is not None and dhash > HASH_THRESHOLD):
        return Finding(CHANGED, "picture_changed", details)
    return Finding(STILL_ONLINE, "post_online", details)
