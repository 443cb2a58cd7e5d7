"""A WACZ 1.1.1 of one capture's WARC, so ReplayWeb.page (replayweb.page) can replay what the browser received.

The WACZ is a convenience for viewing, not evidence: the WARC inside it is the capture's traffic.warc.gz
byte for byte, and the evidence stays the files a capture's manifest.json lists. The same WARC and
arguments always give the same WACZ bytes (fixed entry order and times, canonical JSON; ``created`` is
the capture time).

Layout::

    archive/data.warc.gz       the WARC, unchanged (stored, not deflated again)
    indexes/index.cdx          CDXJ: one sorted line per response, revisit and resource record
    pages/pages.jsonl          a header line, then the main page
    datapackage.json           every other file's path, size and SHA-256
    datapackage-digest.json    the SHA-256 of datapackage.json
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import UTC, datetime
from urllib.parse import urlsplit

from canon import canonical_json

WACZ_VERSION = "1.1.1"
WARC_PATH = "archive/data.warc.gz"
INDEX_PATH = "indexes/index.cdx"
PAGES_PATH = "pages/pages.jsonl"
DATAPACKAGE = "datapackage.json"
DIGEST = "datapackage-digest.json"
INDEXED_TYPES = ("response", "revisit", "resource")
DEFAULT_PORTS = {"http": 80, "https": 443}
WWW = re.compile(r"^www\d*\.")


class WaczError(ValueError):
    """The WARC could not be read as a sequence of gzipped WARC records."""


def surt(url: str) -> str:
    """The SURT key replay tools look a URL up by (as wabac.js and pywb make it).

    ``https://www.Example.com/A/b?z=1&a=2#x`` → ``com,example)/a/b?a=2&z=1``: lower case, scheme,
    ``www.``/``wwwN.``, default port and fragment dropped, host labels reversed, query arguments sorted
    by name (stable). A non-HTTP URL is returned unchanged.
    """
    if not url.lower().startswith(("http:", "https:")):
        return url
    try:
        parts = urlsplit(url.lower())
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return url
    host = WWW.sub("", host)
    key = f"[{host}]" if ":" in host else ",".join(reversed(host.split(".")))
    if port is not None and port != DEFAULT_PORTS[parts.scheme]:
        key += f":{port}"
    key += ")" + (parts.path or "/")
    if parts.query:
        args = parts.query.split("&")
        key += "?" + "&".join(sorted(args, key=lambda arg: arg.split("=", 1)[0]))
    return key


def cdx_timestamp(warc_date: str) -> str:
    """``2026-11-26T13:05:07.123456Z`` → ``20261126130507`` (the first 14 digits)."""
    digits = re.sub(r"\D", "", warc_date)
    if len(digits) < 14:
        raise WaczError(f"WARC-Date {warc_date!r} is not an ISO 8601 date and time")
    return digits[:14]


def cdxj_lines(warc_gz: bytes, filename: str = "data.warc.gz") -> list[str]:
    """The sorted CDXJ lines of the response, revisit and resource records, with their gzip member spans."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    lines = []
    it = ArchiveIterator(io.BytesIO(warc_gz))
    try:
        for record in it:
            if record.rec_type not in INDEXED_TYPES:
                continue
            url = record.rec_headers.get_header("WARC-Target-URI") or ""
            date = record.rec_headers.get_header("WARC-Date") or ""
            fields = {"url": url, "mime": _mime(record), "status": _status(record),
                      "digest": record.rec_headers.get_header("WARC-Payload-Digest") or "",
                      "length": str(it.get_record_length()), "offset": str(it.get_record_offset()),
                      "filename": filename}
            if not fields["digest"]:
                del fields["digest"]
            lines.append(f"{surt(url)} {cdx_timestamp(date)} {json.dumps(fields, ensure_ascii=False)}")
    except ArchiveLoadFailed as exc:
        raise WaczError(f"not a readable WARC: {exc}") from None
    return sorted(lines)


def _mime(record) -> str:
    if record.rec_type == "revisit":
        return "warc/revisit"
    headers = record.http_headers if record.http_headers is not None else record.rec_headers
    return (headers.get_header("Content-Type") or "").split(";")[0].strip().lower()


def _status(record) -> str:
    if record.http_headers is not None and record.http_headers.get_statuscode():
        return record.http_headers.get_statuscode()
    return "200" if record.rec_type == "resource" else "-"


def _rfc3339(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("capture_time must be timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_wacz(warc_gz: bytes, *, title: str, main_url: str, capture_time: datetime, software: str) -> bytes:
    """The WACZ 1.1.1 bytes of ``warc_gz`` with ``main_url`` as its page; raises WaczError for an unreadable WARC."""
    ts = _rfc3339(capture_time)
    index = "".join(f"{line}\n" for line in cdxj_lines(warc_gz)).encode("utf-8")
    page_id = hashlib.sha256(f"{ts} {main_url}".encode()).hexdigest()[:32]
    pages = (json.dumps({"format": "json-pages-1.0", "id": "pages", "title": title}, ensure_ascii=False) + "\n"
             + json.dumps({"id": page_id, "url": main_url, "ts": ts, "title": title}, ensure_ascii=False) + "\n"
             ).encode("utf-8")
    files = [(WARC_PATH, warc_gz), (INDEX_PATH, index), (PAGES_PATH, pages)]
    datapackage = canonical_json({
        "profile": "data-package", "wacz_version": WACZ_VERSION, "created": ts, "software": software,
        "title": title, "mainPageURL": main_url, "mainPageDate": ts,
        "resources": [{"name": path.rsplit("/", 1)[-1], "path": path, "hash": _sha256(data), "bytes": len(data)}
                      for path, data in files]})
    digest = canonical_json({"path": DATAPACKAGE, "hash": _sha256(datapackage)})
    files += [(DATAPACKAGE, datapackage), (DIGEST, digest)]
    when = capture_time.astimezone(UTC).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for path, data in files:
            info = zipfile.ZipInfo(path, date_time=when)
            info.compress_type = zipfile.ZIP_STORED if path.endswith(".gz") else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return out.getvalue()


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
