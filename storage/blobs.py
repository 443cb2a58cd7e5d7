"""Content-addressed, write-once evidence store (blobs are erased only by retention: ``delete``).

A blob's name is the SHA-256 of its bytes (``ab/cd/abcd…``). Writes go to a temp file that is
fsynced, then linked into place and every directory it created fsynced; reads verify the hash,
so a flipped byte or a missing file raises a clear error instead of silently serving altered evidence.

Storing bytes that are already there re-hashes the stored copy first. A good copy is kept as is. A
corrupt one (its bytes no longer hash to its name) is repaired: the new bytes provably are the
blob's content (they hash to the name), so they atomically replace it, and the corrupt file is kept
in ``quarantine/`` for inspection (``vaern verify`` lists it as a file that is not a blob) and logged
— never silently accepted, never deleted.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol

log = logging.getLogger(__name__)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


class BlobError(Exception):
    """Base class for blob-store errors."""


class BlobMissing(BlobError):
    def __init__(self, sha256: str):
        super().__init__(f"evidence blob {sha256} is missing from the store")
        self.sha256 = sha256


class BlobCorrupt(BlobError):
    def __init__(self, sha256: str, actual: str):
        super().__init__(f"evidence blob {sha256} is corrupt: its content hashes to {actual}")
        self.sha256 = sha256
        self.actual = actual


class BlobLocked(BlobError):
    """The blob is under object-lock retention (``mode`` until ``until``) or a legal hold (mode "LEGAL_HOLD")."""

    def __init__(self, sha256: str, mode: str | None, until: datetime | None):
        held = f" ({mode} until {until.isoformat()})" if until is not None else f" ({mode})" if mode else ""
        super().__init__(f"evidence blob {sha256} is under retention{held} and cannot be erased yet")
        self.sha256, self.mode, self.until = sha256, mode, until


@dataclass(frozen=True)
class Retention:
    """What protects a stored blob from deletion: object-lock ``mode`` (COMPLIANCE / GOVERNANCE) until
    ``until``, and an S3 legal hold (no end date) where one is set.

    ``Retention(None, None)``: nothing in the store itself (the local store; Værn's own rules still apply).
    """

    mode: str | None
    until: datetime | None
    legal_hold: bool = False


class EvidenceStore(Protocol):
    """What every evidence store promises (BlobStore on local disk, storage.s3blobs.S3BlobStore in S3).

    Blobs are named by the SHA-256 of their bytes, written once and never overwritten, and every read
    re-hashes what it returns. ``kind`` is "local" or "s3".
    """

    kind: str

    def put(self, data: bytes) -> str: ...
    def put_stream(self, stream: BinaryIO) -> str: ...
    def exists(self, sha256: str) -> bool: ...
    def read(self, sha256: str) -> bytes: ...
    def iter_verified(self, sha256: str) -> Iterator[bytes]: ...
    def verify(self, sha256: str) -> None: ...
    def location(self, sha256: str) -> str: ...

    def retention(self, sha256: str) -> Retention:
        """The store's own protection of the blob now; BlobMissing if it is not stored."""
        ...

    def extend_retention(self, sha256: str, until: datetime) -> datetime | None:
        """Make the store keep the blob locked at least until ``until`` (never shorter); the retain-until in
        force afterwards, None where the store has no lock (local disk)."""
        ...

    def delete(self, sha256: str) -> bool:
        """Erase the blob (every copy the store keeps); False if it was not there.

        Raises BlobLocked while retention holds. The caller (erasure) must first make sure no row
        points at the blob any more and record the erasure in the audit chain.
        """
        ...


class BlobStore:
    """Local-disk store rooted at ``root``."""

    kind = "local"

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if not _HEX64.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` durably and return its SHA-256; storing the same bytes twice is a no-op."""
        return self.put_stream(io.BytesIO(data))

    def put_stream(self, stream: BinaryIO) -> str:
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=self.root / "tmp", prefix="blob-")
        try:
            with os.fdopen(fd, "wb") as fh:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            sha = digest.hexdigest()
            final = self.path_for(sha)
            os.chmod(tmp, 0o444)
            _makedirs_durable(final.parent, self.root)
            try:
                os.link(tmp, final)  # atomic and never replaces an existing file
            except FileExistsError:  # stored before (or by a concurrent writer): check it
                self._keep_or_repair(sha, final, tmp)
            _fsync_dir(final.parent)
            return sha
        finally:
            os.unlink(tmp)

    def _keep_or_repair(self, sha: str, final: Path, good: str) -> None:
        try:
            actual, _ = sha256_of_file(final)
        except FileNotFoundError:  # vanished meanwhile: link ours
            actual = None
        if actual == sha:
            return
        with _repair_lock:
            quarantine = self.root / "quarantine"
            _makedirs_durable(quarantine, self.root)
            kept = quarantine / f"{sha}.{os.getpid()}.{threading.get_ident()}.{os.urandom(4).hex()}"
            try:
                os.link(final, kept)
            except FileNotFoundError:
                kept = None
            staged = final.with_name(f".{sha}.{os.urandom(4).hex()}")
            os.link(good, staged)
            os.replace(staged, final)  # atomic: readers see the corrupt file or the good one
            _fsync_dir(quarantine)
        log.error("evidence blob %s was corrupt (content hashed to %s); replaced with verified bytes, "
                  "the corrupt copy kept as %s", sha, actual, kept)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def location(self, sha256: str) -> str:
        return str(self.path_for(sha256))

    def retention(self, sha256: str) -> Retention:
        """No lock on local disk: ``Retention(None, None)``; BlobMissing if the file is not there."""
        if not self.exists(sha256):
            raise BlobMissing(sha256)
        return Retention(None, None)

    def extend_retention(self, sha256: str, until: datetime) -> datetime | None:
        """No object lock on local disk: nothing to extend (Værn's rules alone keep the file)."""
        return None

    def read(self, sha256: str) -> bytes:
        """The blob's bytes, verified; raises BlobMissing or BlobCorrupt."""
        return b"".join(self.iter_verified(sha256))

    def iter_verified(self, sha256: str) -> Iterator[bytes]:
        """Yield the blob in chunks; raises BlobCorrupt after the last chunk if the hash differs.

        For streaming downloads: the caller must not treat the data as good until iteration ends.
        """
        path = self.path_for(sha256)
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            raise BlobMissing(sha256) from None
        with fh:
            yield from verified_chunks(sha256, iter(lambda: fh.read(CHUNK), b""))

    def delete(self, sha256: str) -> bool:
        """Erase one blob for good, durably (retention, issue 16); False if it was not there. See
        EvidenceStore.delete: the caller checks that no row still refers to it (the store is content-addressed,
        so two cases may share one blob)."""
        path = self.path_for(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True

    def verify(self, sha256: str) -> None:
        """Re-hash one blob; raises BlobMissing or BlobCorrupt."""
        for _ in self.iter_verified(sha256):
            pass


_repair_lock = threading.Lock()


def verified_chunks(sha256: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Pass ``chunks`` through, hashing them; raise BlobCorrupt after the last one if they do not hash to ``sha256``."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
    if digest.hexdigest() != sha256:
        raise BlobCorrupt(sha256, digest.hexdigest())


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ("bucket", "some/prefix/"); ValueError if it is not one (storage.s3blobs)."""
    if not url.startswith("s3://"):
        raise ValueError("must start with s3://")
    bucket, _, prefix = url[5:].partition("/")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise ValueError("names no valid bucket (s3://BUCKET/PREFIX)")
    prefix = prefix.strip("/")
    return bucket, (prefix + "/" if prefix else "")


def _makedirs_durable(path: Path, root: Path) -> None:
    """mkdir -p below ``root``, fsyncing the parent of every directory created (so its entry survives a crash)."""
    missing = []
    p = path
    while not p.is_dir() and p != root:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        _fsync_dir(d.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- re-hashing the whole store (vaern verify) ------------------------------------------------------
_rehash_buffers = threading.local()


def sha256_of_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """Stream one file through SHA-256 in 1 MiB reads into a reused per-thread buffer: (hex digest, size).

    Never holds the whole file in memory; hashlib releases the GIL, so threads hash files in parallel.
    Raises FileNotFoundError (and other OSErrors) as open() does.
    """
    buf = getattr(_rehash_buffers, "buf", None)
    if buf is None:
        buf = _rehash_buffers.buf = bytearray(CHUNK)
    view = memoryview(buf)
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            digest.update(view[:n])
            size += n
    return digest.hexdigest(), size


def iter_store_files(root: str | os.PathLike[str]) -> Iterator[tuple[str, Path]]:
    """Every file under the store's ``ab/cd/`` folders as (file name, path), sorted; ``tmp/`` left out.

    A name that is not a SHA-256 (or sits in the wrong folder) is still yielded: the caller decides.
    """
    base = Path(root)
    for top in sorted(os.scandir(base), key=lambda e: e.name):
        if top.name == "tmp":
            continue
        if not top.is_dir(follow_symlinks=False):
            yield top.name, Path(top.path)
            continue
        for dirpath, dirnames, filenames in os.walk(top.path):
            dirnames.sort()
            for name in sorted(filenames):
                yield name, Path(dirpath) / name
