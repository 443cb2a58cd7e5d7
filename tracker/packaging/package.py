"""Verify an export package (tracker/packaging/export.py) the way an investigator would, with zipfile and hashlib.

Promises: every file SHA256SUMS lists is present and matches; every file present is listed; every
artifact a manifest.json lists matches it; each manifest.tsr's imprint is its manifest.json's SHA-256 and
the token verifies against the TSA certificates (``--ca-file``, else the package's own tsa/*.pem and the
chain stored beside the token); the audit extract matches its hashed lines and its links.

The files also cross-check each other, so rewriting one artifact, its manifest entry and SHA256SUMS
consistently is still named: each manifest.json's SHA-256 must be the fingerprint case.json, the audit
extract (``evidence.captured``) and both PDF reports (their text, read with pypdf) state for that
evidence, and each file must have the SHA-256 case.json lists for it. Each problem names its file. Unsafe
member names (absolute, ``..``, backslashes, control characters) are refused without touching the
disk, and reading is bounded (member count, total size, compression ratio) so a ZIP bomb stops early.
"""
from __future__ import annotations

import hashlib
import json
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from canon import canonical_json
from capture.bundle import MANIFEST_NAME, TIMESTAMP_NAME, TSA_CHAIN_NAME
from capture.errors import TimestampError
from capture.timestamp import token_imprint, verify_timestamp
from capture.wacz_in import unsafe_name

SUMS = "SHA256SUMS"
CASE_JSON = "case.json"
CASE_REPORT = "case-report.pdf"
EVIDENCE_REPORT = "report.pdf"
AUDIT_EXTRACT = "audit-extract.jsonl"
AUDIT_HASHED = "audit-hashed.jsonl"
MAX_MEMBERS = 100_000
MAX_TOTAL_BYTES = 64 * 1024**3  #: uncompressed, all members together
MAX_SMALL_FILE = 64 * 1024 * 1024  #: SHA256SUMS, manifests, tokens, certificates, audit files are read whole
MAX_RATIO = 200  #: uncompressed / compressed, for members over 8 MiB (text deflates ~10×, bombs ~1000×)
CHUNK = 1024 * 1024
SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


class PackageUnreadable(Exception):
    """Not a ZIP, unreadable, or too large to check safely (nothing can be said about its files)."""


@dataclass(frozen=True)
class Problem:
    kind: str  #: FAILED | MISSING | NOT LISTED | MALFORMED | UNSAFE
    path: str
    reason: str = ""

    def line(self) -> str:
        return f"{self.kind}: {self.path}" + (f": {self.reason}" if self.reason else "")


@dataclass
class Verification:
    checked: int = 0  #: files SHA256SUMS lists that were present and matched
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  #: things not checked, and why (do not fail the package)
    timestamps: int = 0  #: tokens verified
    cross_checked: int = 0  #: fingerprints found the same in manifest.json, case.json, audit extract and reports

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, kind: str, path: str, reason: str = "") -> None:
        if not any(p.path == path for p in self.problems):  # one line per file: its first problem
            self.problems.append(Problem(kind, path, reason))


def verify_package(path: str | Path, *, ca_file: str | Path | None = None) -> Verification:
    """Check the package at ``path``; raises PackageUnreadable when it is not a readable ZIP.

    Timestamps are checked against ``ca_file`` when given (the TSA's published root), else against
    the package's own tsa/*.pem.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise PackageUnreadable(f"{path}: not a readable ZIP file ({exc})") from None
    with zf:
        return _verify(zf, ca_file)


def _verify(zf: zipfile.ZipFile, ca_file: str | Path | None) -> Verification:
    result = Verification()
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise PackageUnreadable(f"the ZIP holds {len(infos)} entries (more than {MAX_MEMBERS})")
    if sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
        raise PackageUnreadable(f"the ZIP would unpack to more than {MAX_TOTAL_BYTES // 1024**3} GiB")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if info.is_dir():
            continue
        why = unsafe_name(info.filename)
        if why:
            result.fail("UNSAFE", repr(info.filename), why)
        elif info.filename in members:
            result.fail("UNSAFE", info.filename, "the ZIP holds this name twice")
        elif info.file_size > 8 * 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            result.fail("UNSAFE", info.filename, "compression ratio of a ZIP bomb; not unpacked")
        else:
            members[info.filename] = info
    if SUMS not in members:
        result.fail("MISSING", SUMS, "the package has no checksum list; nothing can be verified")
        return result
    listed = _read_sums(zf, members[SUMS], result)
    hashes: dict[str, str] = {}
    for name, expected in sorted(listed.items()):
        info = members.get(name)
        if info is None:
            result.fail("MISSING", name, "listed in SHA256SUMS but not in the package")
            continue
        actual = _hash_member(zf, info, result)
        if actual is None:
            continue
        hashes[name] = actual
        if actual != expected:
            result.fail("FAILED", name, "SHA-256 does not match SHA256SUMS")
        else:
            result.checked += 1
    for name in sorted(set(members) - set(listed) - {SUMS}):
        result.fail("NOT LISTED", name, "in the package but not in SHA256SUMS")
    intact = {n for n, h in hashes.items() if h == listed[n]}
    _check_manifests(zf, members, hashes, result)
    checked = {n: h for n, h in hashes.items() if n in intact}  # a file SHA256SUMS fails is named already
    _check_imprints(zf, members, checked, result)
    _check_timestamps(zf, members, intact, result, ca_file)
    _check_audit(zf, members, intact, result)
    _cross_check(zf, members, checked, result)
    return result


def _read_sums(zf: zipfile.ZipFile, info: zipfile.ZipInfo, result: Verification) -> dict[str, str]:
    data = _read_small(zf, info, result)
    if data is None:
        return {}
    listed: dict[str, str] = {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        result.fail("MALFORMED", SUMS, "not UTF-8 text")
        return {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = SUM_LINE.match(line)
        name = match.group(2) if match else ""
        why = unsafe_name(name) if match else "not '<64 hex digits>  <path>'"
        if not why and (name in listed or name == SUMS):
            why = f"{name} is listed twice or lists SHA256SUMS itself"
        if why:
            result.problems.append(Problem("MALFORMED", f"{SUMS} line {number}", why))
            continue
        listed[name] = match.group(1).lower()
    return listed


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo, result: Verification) -> bytes | None:
    if info.file_size > MAX_SMALL_FILE:
        result.fail("UNSAFE", info.filename, "larger than such a file can be")
        return None
    chunks = []
    if _stream(zf, info, result, chunks.append) is None:
        return None
    return b"".join(chunks)


def _hash_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, result: Verification) -> str | None:
    digest = hashlib.sha256()
    return digest.hexdigest() if _stream(zf, info, result, digest.update) is not None else None


def _stream(zf: zipfile.ZipFile, info: zipfile.ZipInfo, result: Verification, sink) -> int | None:
    """Feed the member's bytes to ``sink``, never more than its declared size; None (and a problem) on error."""
    total = 0
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(CHUNK):
                total += len(chunk)
                if total > info.file_size:
                    result.fail("UNSAFE", info.filename, "unpacks to more bytes than the ZIP declares")
                    return None
                sink(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        result.fail("FAILED", info.filename, f"cannot be read from the ZIP ({exc})")
        return None
    return total


def _folders_with(members: dict[str, zipfile.ZipInfo], name: str) -> list[str]:
    return sorted(m[: -len(name) - 1] for m in members if m.endswith("/" + name))


def _check_manifests(zf, members, hashes: dict[str, str], result: Verification) -> None:
    """Each artifact an intact manifest.json lists must be beside it with that SHA-256."""
    for folder in _folders_with(members, MANIFEST_NAME):
        path = f"{folder}/{MANIFEST_NAME}"
        if path not in hashes or any(p.path == path for p in result.problems):
            continue
        data = _read_small(zf, members[path], result)
        try:
            artifacts = json.loads(data)["artifacts"] if data is not None else []
        except (ValueError, KeyError, TypeError):
            result.fail("MALFORMED", path, "not a Værn manifest (no artifact list)")
            continue
        for art in artifacts if isinstance(artifacts, list) else []:
            name = f"{folder}/{art.get('name')}" if isinstance(art, dict) else ""
            if not isinstance(art, dict) or unsafe_name(str(art.get("name"))):
                result.fail("MALFORMED", path, "an artifact entry has no safe name")
            elif name not in members:
                result.fail("MISSING", name, "listed in manifest.json but not in the package")
            elif name in hashes and hashes[name] != art.get("sha256"):
                result.fail("FAILED", name, "SHA-256 does not match manifest.json")


_IMPRINT_HASHES = {"2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384",
                   "2.16.840.1.101.3.4.2.3": "sha512"}


def _check_imprints(zf, members, hashes: dict[str, str], result: Verification) -> None:
    """Each manifest.tsr must vouch for its manifest.json's bytes (read from the token; no certificate needed)."""
    for folder in _folders_with(members, TIMESTAMP_NAME):
        tsr, manifest = f"{folder}/{TIMESTAMP_NAME}", f"{folder}/{MANIFEST_NAME}"
        if tsr not in hashes or manifest not in hashes:
            continue
        tsr_bytes, manifest_bytes = _read_small(zf, members[tsr], result), _read_small(zf, members[manifest], result)
        if tsr_bytes is None or manifest_bytes is None:
            continue
        try:
            oid, imprint = token_imprint(tsr_bytes)
        except TimestampError as exc:
            result.fail("MALFORMED", tsr, f"not a readable timestamp token ({exc})")
            continue
        name = _IMPRINT_HASHES.get(oid)
        if name is None:
            result.fail("FAILED", tsr, f"its imprint uses hash algorithm {oid}, which cannot be checked")
        elif hashlib.new(name, manifest_bytes).hexdigest() != imprint:
            result.fail("FAILED", tsr, f"its imprint {imprint} is not the {name.upper()} of {manifest} "
                                       "(the token vouches for other bytes)")


def _check_timestamps(zf, members, intact: set[str], result: Verification, ca_file) -> None:
    """Each manifest.tsr against its (intact) manifest.json and the CA: ``ca_file`` when given, else the
    package's own certificates (tsa/*.pem and the token's manifest.tsa-chain.pem)."""
    tokens = _folders_with(members, TIMESTAMP_NAME)
    if not tokens:
        return
    if ca_file is not None:
        for folder in tokens:
            _verify_token(zf, members, intact, result, folder, str(ca_file))
        return
    pems = [m for m in sorted(members) if m.startswith("tsa/") and m.endswith(".pem") and m in intact]
    shared = b"".join((_read_small(zf, members[p], result) or b"") + b"\n" for p in pems)
    used = False
    with tempfile.TemporaryDirectory() as tmp:
        for n, folder in enumerate(tokens):
            chain = f"{folder}/{TSA_CHAIN_NAME}"
            certs = ((_read_small(zf, members[chain], result) or b"") + b"\n" if chain in intact else b"") + shared
            if not certs.strip():
                result.notes.append(f"timestamp {folder}/{TIMESTAMP_NAME} not checked: the package holds no TSA "
                                    f"certificate (tsa/*.pem or {folder}/{TSA_CHAIN_NAME}); pass --ca-file")
                continue
            used = True
            (Path(tmp) / f"{n}.pem").write_bytes(certs)
            _verify_token(zf, members, intact, result, folder, str(Path(tmp) / f"{n}.pem"))
    if used:
        result.notes.append("timestamps checked against the package's own TSA certificates: compare them with "
                            "the certificate the time-stamping authority publishes (or pass --ca-file)")


def _verify_token(zf, members, intact: set[str], result: Verification, folder: str, ca_file: str) -> None:
    tsr, manifest = f"{folder}/{TIMESTAMP_NAME}", f"{folder}/{MANIFEST_NAME}"
    if tsr not in intact or manifest not in intact or any(p.path == tsr for p in result.problems):
        return  # already reported by name; a token over an altered manifest says nothing new
    tsr_bytes = _read_small(zf, members[tsr], result)
    manifest_bytes = _read_small(zf, members[manifest], result)
    if tsr_bytes is None or manifest_bytes is None:
        return
    try:
        verify_timestamp(tsr_bytes, manifest_bytes, str(ca_file))
    except TimestampError as exc:
        result.fail("FAILED", tsr, f"timestamp does not verify against manifest.json and the TSA certificate ({exc})")
    else:
        result.timestamps += 1


def _check_audit(zf, members, intact: set[str], result: Verification) -> None:
    """Line N of audit-hashed.jsonl must hash to line N's "hash" and carry its "prev_hash"."""
    if AUDIT_EXTRACT not in intact or AUDIT_HASHED not in intact:
        return
    extract = (_read_small(zf, members[AUDIT_EXTRACT], result) or b"").decode("utf-8", "replace").splitlines()
    hashed = (_read_small(zf, members[AUDIT_HASHED], result) or b"").splitlines()
    if len(extract) != len(hashed):
        result.fail("FAILED", AUDIT_HASHED, f"{len(hashed)} lines, but {AUDIT_EXTRACT} has {len(extract)}")
        return
    previous: dict | None = None
    for number, (line, body) in enumerate(zip(extract, hashed), start=1):
        try:
            event, inner = json.loads(line), json.loads(body)
            ok = (hashlib.sha256(body).hexdigest() == event["hash"] and inner["prev"] == event["prev_hash"]
                  and _details_match(event["details"], inner))
            linked = previous is None or event["id"] != previous["id"] + 1 or event["prev_hash"] == previous["hash"]
        except (ValueError, KeyError, TypeError):
            ok, linked = False, True
        if not ok or not linked:
            why = "the event does not match its hash" if not ok else "the link to the event before it is broken"
            result.fail("FAILED", AUDIT_EXTRACT, f"line {number}: {why}")
            return
        previous = event


def _details_match(details, inner: dict) -> bool:
    """An event since migration 0009 hashes its details' digest: the extract's details must have that digest,
    or be the marker retention leaves when it erased them (tracker.oversight.audit.erase_details)."""
    if "details_sha256" not in inner:
        return inner.get("details") == details
    erased = isinstance(details, dict) and "erased_by_rule" in details
    return erased or hashlib.sha256(canonical_json(details)).hexdigest() == inner["details_sha256"]


# -- the files against each other ------------------------------------------------------------------------
def _cross_check(zf, members, hashes: dict[str, str], result: Verification) -> None:
    """Each evidence folder's manifest.json SHA-256 against the fingerprint case.json, the audit extract and
    the reports state, and each of its files against the SHA-256 case.json lists for it."""
    folders = [f for f in _folders_with(members, MANIFEST_NAME) if f"{f}/{MANIFEST_NAME}" in hashes]
    if not folders:
        return
    facts = _json_member(zf, members, hashes, CASE_JSON, result)
    listed = {e.get("folder"): e for e in (facts or {}).get("evidence", []) if isinstance(e, dict) and e.get("folder")}
    captured = _captured_fingerprints(zf, members, hashes, result)
    texts: dict[str, str | None] = {}
    for folder in folders:
        manifest = f"{folder}/{MANIFEST_NAME}"
        fingerprint = hashes[manifest]
        differs: list[str] = []
        entry = listed.get(folder)
        if facts is not None and entry is None:
            differs.append(f"{CASE_JSON} (no evidence entry for {folder})")
        elif entry is not None and entry.get("fingerprint") != fingerprint:
            differs.append(f"{CASE_JSON} (states {entry.get('fingerprint')})")
        evidence_id = folder.rsplit("/", 1)[-1]
        if captured is not None:
            event = captured.get(evidence_id)
            if event is None:
                differs.append(f"{AUDIT_EXTRACT} (no evidence.captured event for evidence {evidence_id})")
            elif event[1] != fingerprint:
                differs.append(f"{AUDIT_EXTRACT} (event {event[0]} recorded {event[1]})")
        for report in (CASE_REPORT, f"{folder}/{EVIDENCE_REPORT}"):
            if report not in texts:
                texts[report] = _pdf_text(zf, members, hashes, report, result)
            if texts[report] is not None and fingerprint not in texts[report]:
                differs.append(f"{report} (the fingerprint is not in its text)")
        if differs:
            result.fail("FAILED", manifest, "its SHA-256 is not the evidence fingerprint stated in "
                        + "; ".join(differs))
        elif facts is not None and captured is not None:
            result.cross_checked += 1
        for file in (entry or {}).get("files", []):
            path = f"{folder}/{file.get('name')}" if isinstance(file, dict) else ""
            if path == manifest or unsafe_name(path or "/"):
                continue
            if path not in members:
                result.fail("MISSING", path, f"listed in {CASE_JSON} but not in the package")
            elif path in hashes and hashes[path] != file.get("sha256"):
                result.fail("FAILED", path, f"SHA-256 does not match {CASE_JSON} (the file as Værn stored it)")


def _json_member(zf, members, hashes, name: str, result: Verification) -> dict | None:
    if name not in hashes:
        if name not in members:
            result.fail("MISSING", name, "the package has no case facts; fingerprints cannot be cross-checked")
        return None
    try:
        data = json.loads(_read_small(zf, members[name], result) or b"")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        result.fail("MALFORMED", name, "not a Værn case export (JSON object)")
        return None
    return data


def _captured_fingerprints(zf, members, hashes, result: Verification) -> dict[str, tuple[int, str]] | None:
    """Evidence id → (event id, fingerprint) of its evidence.captured event in the audit extract."""
    if AUDIT_EXTRACT not in hashes:
        return None
    found: dict[str, tuple[int, str]] = {}
    for line in (_read_small(zf, members[AUDIT_EXTRACT], result) or b"").splitlines():
        try:
            event = json.loads(line)
            if event.get("action") == "evidence.captured":
                found[str(event["object"]["id"])] = (event["id"], event["details"].get("fingerprint"))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # _check_audit names a line that does not parse or hash
    return found


def _pdf_text(zf, members, hashes, name: str, result: Verification) -> str | None:
    """The PDF's text with all white space removed (a fingerprint may wrap), or None when it is absent or unreadable."""
    if name not in hashes:
        return None
    data = _read_small(zf, members[name], result)
    if data is None:
        return None
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        text = "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        result.fail("MALFORMED", name, f"not a readable PDF ({exc.__class__.__name__})")
        return None
    return "".join(text.split()).replace("\u00ad", "")
