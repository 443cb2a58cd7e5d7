"""Verify an export package (tracker/export.py) the way an investigator would, with zipfile and hashlib.

Promises: every file SHA256SUMS lists is present and matches; every file present is listed; every
artifact a manifest.json lists matches it; each manifest.tsr verifies against its manifest.json and the
package's tsa/*.pem; the audit extract matches its hashed lines. Each problem names its file. Unsafe
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

from capture.bundle import MANIFEST_NAME, TIMESTAMP_NAME

SUMS = "SHA256SUMS"
AUDIT_EXTRACT = "audit-extract.jsonl"
AUDIT_HASHED = "audit-hashed.jsonl"
MAX_MEMBERS = 100_000
MAX_TOTAL_BYTES = 64 * 1024**3  #: uncompressed, all members together
MAX_SMALL_FILE = 64 * 1024 * 1024  #: SHA256SUMS, manifests, tokens, certificates, audit files are read whole
MAX_RATIO = 200  #: uncompressed / compressed, for members over 8 MiB (text deflates ~10×, bombs ~1000×)
MAX_NAME = 1000
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

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, kind: str, path: str, reason: str = "") -> None:
        if not any(p.path == path for p in self.problems):  # one line per file: its first problem
            self.problems.append(Problem(kind, path, reason))


def unsafe_name(name: str) -> str | None:
    """Why ``name`` may not be a path inside a package, or None when it is a plain relative path."""
    if not name or len(name) > MAX_NAME:
        return "empty or absurdly long name"
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        return "control character in the name"
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path or backslash"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "path leaves the package folder or has empty parts"
    return None


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
    _check_timestamps(zf, members, intact, result, ca_file)
    _check_audit(zf, members, intact, result)
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


def _check_timestamps(zf, members, intact: set[str], result: Verification, ca_file) -> None:
    """Each manifest.tsr against its (intact) manifest.json and the CA (``ca_file`` or tsa/*.pem)."""
    tokens = _folders_with(members, TIMESTAMP_NAME)
    if not tokens:
        return
    if ca_file is not None:
        _verify_tokens(zf, members, intact, result, tokens, str(ca_file))
        return
    pems = [m for m in sorted(members) if m.startswith("tsa/") and m.endswith(".pem") and m in intact]
    if not pems:
        result.notes.append("timestamps not checked: the package holds no TSA certificate (tsa/*.pem)")
        return
    certs = b"".join((_read_small(zf, members[p], result) or b"") + b"\n" for p in pems)
    result.notes.append("timestamps checked against the package's own tsa/*.pem: compare it with the "
                        "certificate the time-stamping authority publishes (or pass --ca-file)")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "tsa-ca.pem").write_bytes(certs)
        _verify_tokens(zf, members, intact, result, tokens, str(Path(tmp) / "tsa-ca.pem"))


def _verify_tokens(zf, members, intact: set[str], result: Verification, tokens: list[str], ca_file: str) -> None:
    from capture.errors import TimestampError
    from capture.timestamp import verify_timestamp

    for folder in tokens:
        tsr, manifest = f"{folder}/{TIMESTAMP_NAME}", f"{folder}/{MANIFEST_NAME}"
        if tsr not in intact or manifest not in intact:
            continue  # already reported by name; a token over an altered manifest says nothing new
        tsr_bytes = _read_small(zf, members[tsr], result)
        manifest_bytes = _read_small(zf, members[manifest], result)
        if tsr_bytes is None or manifest_bytes is None:
            continue
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
            ok = (hashlib.sha256(body).hexdigest() == event["hash"] and inner["prev"] == event["prev_hash"])
            linked = previous is None or event["id"] != previous["id"] + 1 or event["prev_hash"] == previous["hash"]
        except (ValueError, KeyError, TypeError):
            ok, linked = False, True
        if not ok or not linked:
            why = "the event does not match its hash" if not ok else "the link to the event before it is broken"
            result.fail("FAILED", AUDIT_EXTRACT, f"line {number}: {why}")
            return
        previous = event
