"""Capture profiles and redaction: a logged-in platform account's storage state, and keeping its secrets
(and every other session secret) out of the evidence.

A ``CaptureProfile`` is handed in by the caller (tracker decrypts it); capture/ only applies its Playwright
storage state to the one fresh context of that capture. Whatever a capture records passes through here
before it is sealed: the values of ``Cookie``, ``Set-Cookie``, ``Authorization`` and ``Proxy-Authorization``
headers and of known token query parameters are replaced in the WARC and the manifest (always, profile or
not), and every cookie and local-storage value of the profile is masked wherever its bytes appear in the
WARC's bodies, the HTML, the MHTML and the text. The manifest says what was redacted and how. Screenshots
cannot be scrubbed: a page that prints a session value shows it.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"
#: request and response headers whose values are secrets: replaced, their names (and cookie names) kept
SECRET_HEADERS = ("cookie", "set-cookie", "authorization", "proxy-authorization")
#: query parameters that carry session or access tokens on the platforms Værn knows (values replaced)
TOKEN_PARAMS = ("access_token", "id_token", "refresh_token", "oauth_token", "oauth_verifier", "auth_token",
                "session_token", "sessionid", "fb_dtsg", "csrf_token", "xsrf_token", "_token")
MIN_SECRET_CHARS = 8  #: shorter storage values ("1", "true") are too common to mask in page bytes
HOW = ("Header values of Cookie, Set-Cookie, Authorization and Proxy-Authorization are replaced by "
       "'REDACTED' (cookie names and Set-Cookie attributes kept; for Authorization the scheme is kept); "
       "the values of the query parameters listed are replaced by 'REDACTED' in the WARC's addresses and "
       "the manifest's address chains; with a profile, each of its cookie and local-storage values of at "
       "least 8 characters is masked byte for byte (same length, so Content-Length stays true) in the WARC "
       "bodies (gzip/deflate bodies decoded, masked and re-encoded), page.html, page.mhtml and text.txt. "
       "Screenshots are not altered.")


@dataclass(frozen=True)
class CaptureProfile:
    """A platform account's Playwright storage state (cookies, origins with local storage) for one capture."""

    name: str
    account: str  #: who the account is, in the administrator's words: shown in the manifest and reports
    storage_state: dict[str, Any] = field(repr=False)

    def describe(self) -> dict[str, str]:
        """The manifest's ``profile`` entry: name and account, never a value of the state."""
        return {"name": self.name, "account": self.account}

    def secrets(self) -> list[str]:
        """Every cookie and local-storage value long enough to be masked, longest first."""
        values = [str(c.get("value") or "") for c in self.storage_state.get("cookies") or []]
        for origin in self.storage_state.get("origins") or []:
            values += [str(item.get("value") or "") for item in origin.get("localStorage") or []]
        return sorted({v for v in values if len(v) >= MIN_SECRET_CHARS}, key=len, reverse=True)


def check_storage_state(state: Any) -> dict[str, Any]:
    """The storage state if it has Playwright's shape (``cookies`` with name/value/domain); ValueError otherwise."""
    if not isinstance(state, dict) or not isinstance(state.get("cookies", []), list):
        raise ValueError("a storage state is a JSON object with a list of cookies")
    for c in state.get("cookies", []):
        if not isinstance(c, dict) or not all(isinstance(c.get(k), str) for k in ("name", "value", "domain")):
            raise ValueError("each cookie needs a name, a value and a domain")
    origins = state.get("origins", [])
    if not isinstance(origins, list) or not all(isinstance(o, dict) and isinstance(o.get("origin"), str)
                                                for o in origins):
        raise ValueError("origins must be a list of objects with an origin")
    return {"cookies": list(state.get("cookies", [])), "origins": list(origins)}


# -- headers and addresses ------------------------------------------------------------------------
def redact_header(name: str, value: str) -> str:
    """A secret header's value with its secrets replaced; any other header unchanged."""
    low = name.lower()
    if low == "cookie":
        return "; ".join(f"{p.split('=', 1)[0].strip()}={REDACTED}" for p in value.split(";") if p.strip())
    if low == "set-cookie":
        first, _, attrs = value.partition(";")
        return f"{first.split('=', 1)[0].strip()}={REDACTED}" + (f";{attrs}" if attrs else "")
    if low in ("authorization", "proxy-authorization"):
        scheme, _, rest = value.strip().partition(" ")
        return f"{scheme} {REDACTED}" if rest else REDACTED
    return value


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: redact_header(k, v) for k, v in headers.items()}


def redact_url(url: str) -> str:
    """``url`` with the values of known token query parameters replaced (unchanged if it has none)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query or not any(k.lower() in TOKEN_PARAMS for k, _ in parse_qsl(parts.query, True)):
        return url
    pairs = [(k, REDACTED if k.lower() in TOKEN_PARAMS else v) for k, v in parse_qsl(parts.query, True)]
    return urlunsplit(parts._replace(query=urlencode(pairs, quote_via=quote, safe="/:@!$'()*+,;=-._~")))


# -- bytes ------------------------------------------------------------------------------------------
def _variants(secret: str) -> list[bytes]:
    raw = secret.encode("utf-8")
    out = [raw, quote(secret, safe="").encode("ascii")]
    return [v for i, v in enumerate(out) if v not in out[:i]]


def mask(data: bytes, secrets: list[str]) -> tuple[bytes, int]:
    """``data`` with every occurrence of each secret (raw or percent-encoded) masked at the same length."""
    count = 0
    for secret in secrets:
        for needle in _variants(secret):
            n = data.count(needle)
            if n:
                count += n
                data = data.replace(needle, (REDACTED.encode() + b"_" * len(needle))[:len(needle)])
    return data, count


def _coding(headers: list[tuple[bytes, bytes]]) -> bytes:
    return next((v.strip().lower() for k, v in headers if k.lower() == b"content-encoding"), b"identity")


def mask_body(body: bytes, headers: list[tuple[bytes, bytes]], secrets: list[str]) -> tuple[bytes, int]:
    """Mask a body as sent: identity directly; gzip/deflate decoded, masked and re-encoded if anything was found;
    other codings (br, zstd) are masked as they are (a value inside them is not found)."""
    coding = _coding(headers)
    if not secrets or not body:
        return body, 0
    if coding in (b"gzip", b"x-gzip", b"deflate"):
        try:
            wbits = 16 + zlib.MAX_WBITS if coding != b"deflate" else zlib.MAX_WBITS
            plain = zlib.decompress(body, wbits)
        except zlib.error:
            return mask(body, secrets)
        masked, n = mask(plain, secrets)
        if not n:
            return body, 0
        enc = zlib.compressobj(wbits=wbits)
        return enc.compress(masked) + enc.flush(), n
    return mask(body, secrets)


def _headers(headers: list[tuple[bytes, bytes]]) -> tuple[list[tuple[bytes, bytes]], int]:
    out, n = [], 0
    for k, v in headers:
        name = k.decode("latin-1")
        if name.lower() in SECRET_HEADERS:
            n += 1
            v = redact_header(name, v.decode("latin-1")).encode("latin-1", "replace")
        out.append((k, v))
    return out, n


def redact_record(record: Any, secrets: list[str]) -> tuple[Any, dict[str, int]]:
    """A copy of the proxy's record fit for the WARC, and counts of what was replaced."""
    counts = {"headers": 0, "token_parameters": 0, "profile_values": 0}
    exchanges = []
    for ex in record.exchanges:
        req_h, a = _headers(ex.request_headers)
        resp_h, b = _headers(ex.response_headers)
        req_body, c = mask_body(ex.request_body, ex.request_headers, secrets)
        resp_body, d = mask_body(ex.response_body, ex.response_headers, secrets)
        url = redact_url(ex.url)
        method, _, rest = ex.request_line.decode("latin-1").partition(" ")
        target, _, version = rest.rpartition(" ")
        line = f"{method} {redact_url(target)} {version}".encode("latin-1", "replace") if target else ex.request_line
        counts["headers"] += a + b
        counts["profile_values"] += c + d
        counts["token_parameters"] += int(url != ex.url)
        exchanges.append(replace(ex, url=url, request_line=line, request_headers=req_h, response_headers=resp_h,
                                 request_body=req_body, response_body=resp_body))
    return replace(record, exchanges=exchanges), counts


def describe(counts: dict[str, int], profile: CaptureProfile | None, masked_files: dict[str, int]) -> dict[str, Any]:
    """The manifest's ``redaction`` entry."""
    return {"headers": list(SECRET_HEADERS), "query_parameters": list(TOKEN_PARAMS), "how": HOW,
            "replaced": {**counts, "files": dict(sorted(masked_files.items()))},
            "profile_values_masked": profile is not None}
