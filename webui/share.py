"""What a phone's share sheet hands Værn: the first web address in ``url`` or ``text``, without tracking parameters.

Android puts a shared link in ``url`` or ``text`` (often "Look at this https://…" in ``text``), iPhone's
Shortcut and the bookmarklet send ``url``. Tracking parameters (``fbclid``, ``utm_*`` …) identify the
person who shared and are not part of the post's address, so they are dropped before the address is shown.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: query parameters that only track who clicked where (compared in lower case)
TRACKING = frozenset({"fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "igshid", "igsh", "mibextid",
                      "twclid", "ttclid", "yclid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "ref_src",
                      "ref_url", "__tn__"})
TRACKING_PREFIXES = ("utm_", "__cft__")
#: hosts where ``s``/``t``/``si`` are tracking; elsewhere they may be the page itself (a search, a time)
SHORT_PARAM_HOSTS = ("twitter.com", "x.com", "youtube.com", "youtu.be", "open.spotify.com", "instagram.com")
_SHORT = frozenset({"s", "t", "si"})
_ADDRESS = re.compile(r"https?://[^\s<>\"'«»“”‘’]+", re.IGNORECASE)
#: punctuation that ends a sentence rather than the address ("Se her: https://…/123.")
_TRAILING = ".,;:!?)]}>"
MAX_SHARED_TEXT = 1000


def first_address(*texts: str | None) -> str | None:
    """The first http(s) address in the texts, in order (``url`` before ``text``), cleaned; None if there is none."""
    for text in texts:
        match = _ADDRESS.search(text or "")
        if match:
            address = match.group(0)
            while address and address[-1] in _TRAILING and not _balanced(address):
                address = address[:-1]
            return clean_address(address)
    return None


def _balanced(address: str) -> bool:
    """A closing bracket that belongs to the address (Wikipedia's ``…_(film)``) stays; other punctuation goes."""
    last = address[-1]
    pairs = {")": "(", "]": "[", "}": "{"}
    return last in pairs and address.count(pairs[last]) >= address.count(last)


def clean_address(address: str) -> str:
    """``address`` without tracking parameters and without a fragment-only tracking tail; otherwise unchanged."""
    try:
        parts = urlsplit(address)
    except ValueError:
        return address
    host = (parts.hostname or "").lower()
    short_ok = any(host == h or host.endswith("." + h) for h in SHORT_PARAM_HOSTS)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _tracking(k, short_ok)]
    query = urlencode(kept, doseq=True) if len(kept) != len(parse_qsl(parts.query, keep_blank_values=True)) \
        else parts.query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _tracking(name: str, short_ok: bool) -> bool:
    key = name.lower()
    if key in _SHORT:
        return short_ok
    return key in TRACKING or key.startswith(TRACKING_PREFIXES)


def shared_words(title: str | None, text: str | None, address: str | None) -> str:
    """What the share sheet sent besides the address (the post's words, a title), for "what happened"."""
    words = [w.strip() for w in (title, text) if w and w.strip()]
    joined = "\n".join(dict.fromkeys(words))
    if address:
        joined = _ADDRESS.sub("", joined).strip()
    return joined[:MAX_SHARED_TEXT]
