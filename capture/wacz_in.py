"""A WACZ recorded in the employee's own browser (e.g. ArchiveWeb.page): check it before anything trusts it.

Order (the WACZ signing spec's "Verification"): the ZIP's structure (safe names, bounded size, no bomb),
every file ``datapackage.json`` lists against its hash, then ``datapackage-digest.json``: its hash of
``datapackage.json`` and, when present, its signature. A file that does not match its hash refuses the
whole WACZ (``CaptureRefused("wacz_hash_mismatch", …)`` naming the file). What could and could not be
verified is returned as plain data for the manifest, never more than was checked: an anonymous ECDSA
signature proves the package is unchanged since that key signed it, not who holds the key; a
domain-identity signature needs a certificate chain and an RFC 3161 check against trusted roots, which
is not done offline here, so it is recorded as "not verified".
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from .errors import CaptureRefused

DATAPACKAGE = "datapackage.json"
DIGEST = "datapackage-digest.json"
PAGES = "pages/pages.jsonl"
MAX_MEMBERS = 20_000
MAX_TOTAL_BYTES = 512 * 1024**2  #: uncompressed, all members together (the WARCs are held in memory)
MAX_JSON_BYTES = 32 * 1024 * 1024  #: datapackage.json, the digest and pages.jsonl are read whole
MAX_RATIO = 200  #: uncompressed / compressed for members over 8 MiB (WARCs are gzipped: ~1)
MAX_NAME = 1000
CHUNK = 1024 * 1024
HASH_ALGORITHMS = ("sha256", "md5")  #: what py-wacz and ArchiveWeb.page write


def looks_like_wacz(data: bytes) -> bool:
    """A ZIP whose root holds ``datapackage.json`` (cheap: reads the central directory only)."""
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return any(i.filename == DATAPACKAGE for i in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def unsafe_name(name: str) -> str | None:
    """Why ``name`` may not be a path inside a ZIP archive — a WACZ or Værn's own case package (its verifier in
    tracker/packaging/package.py uses this rule too) —, or None when it is a plain relative path."""
    if not name or len(name) > MAX_NAME:
        return "empty or absurdly long name"
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        return "control character in the name"
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path or backslash"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "path leaves the package folder or has empty parts"
    return None


@dataclass
class CheckedWacz:
    """The WACZ after its checks: its WARCs (verified bytes), pages, and the verification record."""

    warcs: dict[str, bytes] = field(default_factory=dict)  #: path -> bytes, each matched its hash
    pages: list[dict[str, Any]] = field(default_factory=list)
    verification: dict[str, Any] = field(default_factory=dict)
    datapackage: dict[str, Any] = field(default_factory=dict)


def _refuse(code: str, reason: str) -> CaptureRefused:
    return CaptureRefused(code, reason)


def check_wacz(data: bytes) -> CheckedWacz:
    """Check ``data`` as a WACZ; CaptureRefused for anything that is not a sound one.

    Codes: wacz_corrupt (not a readable ZIP / JSON), wacz_unsafe (names, size, bomb),
    wacz_incomplete (a listed file is missing, no WARC), wacz_hash_mismatch (a file or datapackage.json
    does not match its hash; the reason names the file), wacz_signature_invalid (a signature that does
    not verify: the package was changed after signing, or the signature is not what it claims).
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _refuse("wacz_corrupt", f"not a readable ZIP file ({exc})") from None
    with zf:
        members = _members(zf)
        if DATAPACKAGE not in members:
            raise _refuse("wacz_incomplete", f"{DATAPACKAGE} is missing: not a WACZ")
        package_bytes = _read_small(zf, members[DATAPACKAGE])
        package = _json(package_bytes, DATAPACKAGE)
        resources = package.get("resources")
        if not isinstance(resources, list):
            raise _refuse("wacz_corrupt", f"{DATAPACKAGE} has no list of resources")
        checked, listed = _check_resources(zf, members, resources)
        result = CheckedWacz(datapackage={k: package.get(k) for k in (
            "wacz_version", "software", "created", "title", "description", "mainPageURL", "mainPageDate")
            if isinstance(package.get(k), (str, int)) and not isinstance(package.get(k), bool)})
        for path in sorted(listed):
            if path.startswith("archive/") and path.lower().endswith((".warc", ".warc.gz")):
                result.warcs[path] = _read_member(zf, members[path])
        if not result.warcs:
            raise _refuse("wacz_incomplete", f"{DATAPACKAGE} lists no WARC under archive/: nothing to replay")
        if PAGES in listed:
            result.pages = _pages(_read_small(zf, members[PAGES]))
        unlisted = sorted(set(members) - set(listed) - {DATAPACKAGE, DIGEST})
        digest = _check_digest(zf, members, package_bytes)
    result.verification = {
        "zip": "names safe, size within limits",
        "files_checked": checked,
        "hash_algorithms": sorted({h.split(":", 1)[0] for h in listed.values()}),
        "not_covered": unlisted,  #: in the ZIP but not in datapackage.json: not verified, not used
        "digest": digest,
    }
    return result


def _members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _refuse("wacz_unsafe", f"the ZIP holds {len(infos)} entries (more than {MAX_MEMBERS})")
    if sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
        raise _refuse("wacz_unsafe", f"the ZIP would unpack to more than {MAX_TOTAL_BYTES // 1024**2} MiB")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if info.is_dir():
            continue
        why = unsafe_name(info.filename)
        if why:
            raise _refuse("wacz_unsafe", f"unsafe name {info.filename!r} in the ZIP: {why}")
        if info.filename in members:
            raise _refuse("wacz_unsafe", f"the ZIP holds {info.filename} twice")
        if info.file_size > 8 * 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _refuse("wacz_unsafe", f"{info.filename} has the compression ratio of a ZIP bomb; not unpacked")
        members[info.filename] = info
    return members


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int = MAX_TOTAL_BYTES) -> bytes:
    """The member's bytes, stopping at its declared size (a lying header cannot inflate past it)."""
    out = io.BytesIO()
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(CHUNK):
                out.write(chunk)
                if out.tell() > min(info.file_size, limit):
                    raise _refuse("wacz_unsafe", f"{info.filename} unpacks to more than it declares")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise _refuse("wacz_corrupt", f"{info.filename} cannot be read from the ZIP ({exc})") from None
    return out.getvalue()


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    if info.file_size > MAX_JSON_BYTES:
        raise _refuse("wacz_unsafe", f"{info.filename} is larger than {MAX_JSON_BYTES // 1024**2} MiB")
    return _read_member(zf, info, MAX_JSON_BYTES)


def _json(data: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _refuse("wacz_corrupt", f"{name} is not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(value, dict):
        raise _refuse("wacz_corrupt", f"{name} is not a JSON object")
    return value


def _digest_of(data: bytes, algorithm: str) -> str:
    return hashlib.new(algorithm, data).hexdigest()


def _split_hash(value: Any, path: str) -> tuple[str, str]:
    if not isinstance(value, str) or ":" not in value:
        raise _refuse("wacz_corrupt", f"{DATAPACKAGE} gives no hash (algorithm:hex) for {path}")
    algorithm, hexdigest = value.split(":", 1)
    if algorithm.lower() not in HASH_ALGORITHMS:
        raise _refuse("wacz_corrupt", f"{DATAPACKAGE} uses hash {algorithm!r} for {path}; Værn checks "
                                      f"{' and '.join(HASH_ALGORITHMS)}")
    return algorithm.lower(), hexdigest.strip().lower()


def _check_resources(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo],
                     resources: list[Any]) -> tuple[int, dict[str, str]]:
    """Every listed file present and matching its hash and size; returns (count, path -> "alg:hex")."""
    listed: dict[str, str] = {}
    for res in resources:
        if not isinstance(res, dict) or not isinstance(res.get("path"), str):
            raise _refuse("wacz_corrupt", f"{DATAPACKAGE} has a resource without a path")
        path = res["path"]
        why = unsafe_name(path)
        if why:
            raise _refuse("wacz_unsafe", f"{DATAPACKAGE} lists an unsafe path {path!r}: {why}")
        if path in (DATAPACKAGE, DIGEST) or path in listed:
            raise _refuse("wacz_corrupt", f"{DATAPACKAGE} lists {path} twice or lists itself")
        algorithm, expected = _split_hash(res.get("hash"), path)
        info = members.get(path)
        if info is None:
            raise _refuse("wacz_incomplete", f"{path} is listed in {DATAPACKAGE} but missing from the WACZ")
        hasher = hashlib.new(algorithm)
        size = 0
        try:
            with zf.open(info) as fh:
                while chunk := fh.read(CHUNK):
                    size += len(chunk)
                    if size > info.file_size:
                        raise _refuse("wacz_unsafe", f"{path} unpacks to more than it declares")
                    hasher.update(chunk)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            # zipfile's own CRC check: the bytes were changed inside the ZIP
            raise _refuse("wacz_hash_mismatch", f"{path} cannot be read intact ({exc})") from None
        if hasher.hexdigest() != expected:
            raise _refuse("wacz_hash_mismatch", f"{path} does not match its {algorithm.upper()} hash in "
                                                f"{DATAPACKAGE}: the file was changed or damaged")
        declared = res.get("bytes")
        if isinstance(declared, int) and not isinstance(declared, bool) and declared != size:
            raise _refuse("wacz_hash_mismatch", f"{path} is {size} bytes; {DATAPACKAGE} says {declared}")
        listed[path] = f"{algorithm}:{expected}"
    return len(listed), listed


def _pages(data: bytes) -> list[dict[str, Any]]:
    """The page entries of pages.jsonl (its first line is a header without ``url``)."""
    pages = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get("url"), str):
            pages.append({k: item[k] for k in ("url", "ts", "title") if isinstance(item.get(k), str)})
    return pages


# --- datapackage-digest.json and its signature ------------------------------------------------------
def _check_digest(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], package_bytes: bytes) -> dict[str, Any]:
    """The digest's hash of datapackage.json (refused if wrong) and the signature's verdict, as data."""
    if DIGEST not in members:
        return {"present": False, "signature": {"status": "absent",
                                                "summary": "not signed: no datapackage-digest.json"}}
    digest = _json(_read_small(zf, members[DIGEST]), DIGEST)
    algorithm, expected = _split_hash(digest.get("hash"), DATAPACKAGE)
    if _digest_of(package_bytes, algorithm) != expected:
        raise _refuse("wacz_hash_mismatch", f"{DATAPACKAGE} does not match its hash in {DIGEST}: "
                                            "the file list was changed")
    signed = digest.get("signedData")
    return {"present": True, "hash": f"{algorithm}:{expected}", "hash_matches": True,
            "signature": verify_signed_data(signed, f"{algorithm}:{expected}") if signed is not None
            else {"status": "absent", "summary": "not signed: datapackage-digest.json has no signedData"}}


def verify_signed_data(signed: Any, package_hash: str) -> dict[str, Any]:
    """Verdict on ``signedData`` (WACZ signing spec 0.1.0); raises CaptureRefused when a signature fails."""
    if not isinstance(signed, dict):
        raise _refuse("wacz_corrupt", f"{DIGEST}: signedData is not an object")
    meta = {k: signed[k] for k in ("created", "software", "version") if isinstance(signed.get(k), str)}
    claimed = signed.get("hash")
    if isinstance(claimed, str) and claimed.strip().lower() != package_hash.lower():
        raise _refuse("wacz_signature_invalid", f"{DIGEST}: the signature is over another hash than "
                                                f"{DATAPACKAGE}'s")
    if signed.get("domainCert") or signed.get("domain"):
        return {**meta, "status": "not_verified", "kind": "domain_identity",
                "domain": str(signed.get("domain") or "")[:300],
                "summary": "domain-identity signature not verified: its certificate chain and RFC 3161 "
                           "timestamp need trusted roots Værn does not check offline"}
    if not isinstance(signed.get("publicKey"), str) or not isinstance(signed.get("signature"), str):
        return {**meta, "status": "not_verified", "kind": "unknown",
                "summary": "signedData has neither a public key nor a domain certificate; not verified"}
    ok, detail = _verify_anonymous(signed["publicKey"], signed["signature"], claimed or package_hash)
    if not ok:
        raise _refuse("wacz_signature_invalid", f"{DIGEST}: the signature does not verify ({detail}); the "
                                                "WACZ was changed after it was signed")
    key_sha = hashlib.sha256(base64.b64decode(signed["publicKey"])).hexdigest()
    return {**meta, "status": "valid", "kind": "anonymous", "curve": detail, "public_key_sha256": key_sha,
            "summary": "signature valid, anonymous key — identity not established "
                       "(the package is unchanged since this key signed it; who holds the key is not known)"}


def _verify_anonymous(public_key_b64: str, signature_b64: str, message: str) -> tuple[bool, str]:
    """ECDSA with SHA-256 over the hash string (UTF-8), key as base64 SPKI; the signature raw r‖s (WebCrypto,
    as ArchiveWeb.page writes it) or DER. Returns (valid, curve name or the reason it is not)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key_b64, validate=True))
        sig = base64.b64decode(signature_b64, validate=True)
    except (ValueError, binascii.Error, TypeError) as exc:
        return False, f"key or signature cannot be read: {exc.__class__.__name__}"
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False, "the public key is not an ECDSA key"
    size = (key.curve.key_size + 7) // 8
    candidates = [sig]
    if len(sig) == 2 * size:  # raw r‖s (IEEE P1363)
        candidates.insert(0, encode_dss_signature(int.from_bytes(sig[:size], "big"),
                                                  int.from_bytes(sig[size:], "big")))
    for der in candidates:
        try:
            key.verify(der, message.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
            return True, key.curve.name
        except (InvalidSignature, ValueError):
            continue
    return False, f"{key.curve.name} signature mismatch"


# --- the evidence ---------------------------------------------------------------------------------
def examine(data: bytes, options: Any, operator: str, log: Any) -> tuple[dict[str, Any], list[Any]]:
    """Check, strip, replay: the manifest's ``wacz`` part (and title, post, hashes) and the replay's files.

    ``log`` is the upload's run record (``act(step, detail)``, ``actions``). Called by capture/upload.py
    for a sniffed WACZ.
    """
    act = log.act
    from .hashing import normalise_text, text_sha256
    from .manifest import POST_EXCERPT_CHARS
    from .replay import index_warc, main_page, replay, strip_secrets

    checked = check_wacz(data)
    ver = checked.verification
    act("verify_wacz", f"{ver['files_checked']} file(s) match their hashes in {DATAPACKAGE}; "
                       f"signature: {ver['digest']['signature']['status']}")
    index: dict[str, Any] = {}
    working: list[dict[str, Any]] = []
    removed_total: dict[str, int] = {}
    for path, warc in checked.warcs.items():
        try:
            stripped, removed = strip_secrets(warc)
            index_warc(stripped, index)
        except Exception as exc:  # noqa: BLE001 - warcio's errors for a broken WARC vary
            raise _refuse("wacz_corrupt", f"{path} cannot be read as WARC records ({exc.__class__.__name__})") \
                from None
        working.append({"path": path, "sha256": hashlib.sha256(stripped).hexdigest(), "size": len(stripped),
                        "removed_headers": removed})
        for name, count in removed.items():
            removed_total[name] = removed_total.get(name, 0) + count
    act("strip", "working copy without Cookie/Set-Cookie/Authorization headers: "
                 + (", ".join(f"{n} ×{c}" for n, c in removed_total.items()) or "none were present"))
    url, chosen_from = main_page(checked.pages, checked.datapackage, index)
    if url is None:
        raise _refuse("wacz_incomplete", "the WACZ names no page and its WARC holds no HTML page to replay")
    act("main_page", f"{url} ({chosen_from})")
    result = replay(index, url, options, operator)
    log.actions.extend(result.actions)  # with the replay's own times
    recorded_at = next((p.get("ts") for p in checked.pages if p.get("url") == url), None) \
        or (index[url].date if url in index else None)
    text = normalise_text(result.post_text) if result.post_text else None
    summary = [
        "ZIP structure checked: safe names, within size limits, no compression bomb",
        f"{ver['files_checked']} file(s) match their hashes in {DATAPACKAGE}",
        (f"{DATAPACKAGE} matches its hash in {DIGEST}" if ver["digest"]["present"]
         else f"no {DIGEST}: the file list itself is not sealed"),
        ver["digest"]["signature"]["summary"],
        "not verified: that the archived responses are what the servers sent (a WACZ holds what the recording "
        "browser received)",
        "the recording time is the WACZ's own statement; Værn's time is the time of receipt",
    ]
    if ver["not_covered"]:
        summary.append(f"{len(ver['not_covered'])} file(s) in the ZIP are not in {DATAPACKAGE}: not verified, "
                       "not used")
    manifest = {
        "wacz": {
            "verification": ver, "summary": summary, "datapackage": checked.datapackage,
            "pages": checked.pages[:MAX_LISTED_PAGES],
            "main_page": {"url": url, "chosen_from": chosen_from, "recorded_at": recorded_at},
            "working_copy": working,
            "replay": {"network": "none: every request answered from the working copy or aborted; "
                                  "service workers and WebSockets blocked; no proxy route out",
                       "http_status": result.http_status, "final_url": result.final_url,
                       "served": result.served, "blocked": result.blocked,
                       "browser": result.browser_version, "user_agent": result.user_agent,
                       "notes": result.notes},
        },
        "title": result.title, "meta": result.meta, "platform": result.platform,
        "post": {"text_excerpt": text[:POST_EXCERPT_CHARS] if text else None, "selector": result.post_selector},
        "perceptual_hashes": result.perceptual_hashes, "text_sha256": text_sha256(result.post_text),
    }
    roles = ("screenshot_full", "screenshot_viewport", "screenshot_post", "mhtml", "html", "text")
    return manifest, [result.artifacts[r] for r in roles if r in result.artifacts]


MAX_LISTED_PAGES = 50
