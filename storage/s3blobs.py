"""Content-addressed, write-once evidence store in S3-compatible object storage with object lock.

The same promises as the local store (storage.blobs), kept with S3's own means:

- **Layout**: ``s3://BUCKET/PREFIX/ab/cd/abcd…``: a blob's key ends in the SHA-256 of its bytes.
- **Streamed, checked upload**: the bytes are streamed once into a temporary file (in memory up to
  8 MiB) while SHA-256 and MD5 are computed; the PUT carries both (``x-amz-checksum-sha256``,
  ``Content-MD5``), so the server refuses bytes that arrive altered. The checksum the server reports
  back, the size, the version id and the object-lock retention are then read back with HEAD and
  compared: a store that kept no retention or no version is an error, not a silent success.
- **Retention at write**: every object is written with object-lock mode (COMPLIANCE by default,
  GOVERNANCE configurable) and a retain-until date ``VAERN_S3_OBJECT_LOCK_DAYS`` ahead.
- **Never overwritten**: the PUT is conditional (``If-None-Match: *``); a key written before (by a
  concurrent writer, or by a write whose record was lost) is adopted only if its oldest version's bytes
  hash to its name. Objects are only ever added as versions: a version that was written cannot change.
- **The version id is recorded** (table ``blob_versions``, storage.models.BlobVersion) in its own
  transaction before ``put`` returns, so before any row points at the SHA-256; every read asks for
  exactly that version and re-hashes it. A newer version written over the key later is never served,
  and ``vaern verify`` names it. Each process caches the records; one whose version it finds missing or
  altered is read again from the database, so a version another process wrote since is the one read.
- **Nothing on local disk** but the temporary upload file, deleted when ``put`` returns.

Needs PostgreSQL (the version record is written on its own connection while a caller's transaction
may be open; on SQLite that would wait for the caller's own write lock).
"""
from __future__ import annotations

import base64
import hashlib
import io
import logging
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import BinaryIO, Iterator

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.blobs import (CHUNK, _HEX64, BlobCorrupt, BlobError, BlobLocked, BlobMissing, Retention, parse_s3_url,
                           verified_chunks)
from storage.models import BlobVersion
from storage.types import utcnow

log = logging.getLogger(__name__)
SPOOL_IN_MEMORY = 8 * 1024 * 1024
_GONE = {"NoSuchKey", "NoSuchVersion", "404", "NotFound", "InvalidArgument"}  # InvalidArgument: a malformed version id
_TAKEN = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


@dataclass(frozen=True)
class Recorded:
    """What ``blob_versions`` holds for one blob."""

    version_id: str
    size: int
    lock_mode: str | None
    retain_until: datetime | None


@dataclass(frozen=True)
class ObjectVersion:
    """One entry of the bucket's version listing under the store's prefix."""

    key: str
    version_id: str
    last_modified: datetime
    size: int | None  #: None for a delete marker
    delete_marker: bool = False


class S3BlobStore:
    """Evidence blobs as object-locked, versioned S3 objects; version ids recorded in the database."""

    kind = "s3"

    def __init__(self, bucket: str, prefix: str, client, engine: Engine, *, lock_days: int,
                 lock_mode: str = "COMPLIANCE"):
        if lock_mode not in ("COMPLIANCE", "GOVERNANCE"):
            raise ValueError(f"object-lock mode must be COMPLIANCE or GOVERNANCE, not {lock_mode!r}")
        self.bucket, self.prefix, self.client, self.engine = bucket, prefix, client, engine
        self.lock_days, self.lock_mode = lock_days, lock_mode
        self._cache: dict[str, Recorded] = {}
        self._cache_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, engine: Engine, *, endpoint_url: str | None, lock_days: int,
                 lock_mode: str = "COMPLIANCE") -> "S3BlobStore":
        """A store for ``s3://BUCKET/PREFIX``; credentials and region come from the standard AWS variables."""
        import boto3  # here, not at the top: 0.2 s that processes on the local store need not pay
        from botocore.config import Config

        bucket, prefix = parse_s3_url(url)
        client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url or None,
            config=Config(max_pool_connections=16, retries={"max_attempts": 5, "mode": "standard"},
                          request_checksum_calculation="when_required", response_checksum_validation="when_required"))
        return cls(bucket, prefix, client, engine, lock_days=lock_days, lock_mode=lock_mode)

    # -- names --------------------------------------------------------------------------------------
    def key_for(self, sha256: str) -> str:
        if not _HEX64.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return f"{self.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def location(self, sha256: str) -> str:
        """Where the blob lives, for messages: ``s3://bucket/prefix/ab/cd/…``."""
        return f"s3://{self.bucket}/{self.key_for(sha256)}"

    def check_bucket(self) -> None:
        """Raise BlobError (one line) unless the bucket exists with versioning and object lock enabled."""
        where = f"s3://{self.bucket}"
        try:
            versioning = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
            lock = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) == "ObjectLockConfigurationNotFoundError":
                raise BlobError(f"evidence bucket {where} was not created with object lock enabled") from None
            raise BlobError(f"evidence bucket {where} cannot be used: {_why(exc)}") from None
        except BotoCoreError as exc:
            raise BlobError(f"evidence bucket {where} cannot be used: {_why(exc)}") from None
        if versioning != "Enabled":
            raise BlobError(f"evidence bucket {where} does not have versioning enabled")
        if lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise BlobError(f"evidence bucket {where} was not created with object lock enabled")

    # -- writing -------------------------------------------------------------------------------------
    def put(self, data: bytes) -> str:
        """Store ``data`` durably and return its SHA-256; storing the same bytes twice is a no-op."""
        return self.put_stream(io.BytesIO(data))

    def put_stream(self, stream: BinaryIO) -> str:
        sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, prefix="vaern-blob-") as spool:
            while chunk := stream.read(CHUNK):
                sha.update(chunk)
                md5.update(chunk)
                spool.write(chunk)
                size += len(chunk)
            name = sha.hexdigest()
            if self.recorded(name) is not None:
                try:
                    self.verify(name)
                    return name
                except (BlobMissing, BlobCorrupt) as exc:  # the recorded version is gone or bad: add a good one
                    log.error("evidence blob %s: %s; writing the verified bytes as a new version", name, exc)
                    self._write(name, spool, size, sha.digest(), md5.digest(), conditional=False, replace=True)
                    return name
            self._write(name, spool, size, sha.digest(), md5.digest(), conditional=True, replace=False)
        return name

    def _write(self, name: str, spool, size: int, sha: bytes, md5: bytes, *, conditional: bool, replace: bool) -> None:
        key, sha_b64 = self.key_for(name), base64.b64encode(sha).decode()
        until = utcnow() + timedelta(days=self.lock_days)
        spool.seek(0)
        args = dict(Bucket=self.bucket, Key=key, Body=spool, ContentLength=size,
                    ContentMD5=base64.b64encode(md5).decode(), ChecksumAlgorithm="SHA256", ChecksumSHA256=sha_b64,
                    ContentType="application/octet-stream", ObjectLockMode=self.lock_mode,
                    ObjectLockRetainUntilDate=until)
        if conditional:
            args["IfNoneMatch"] = "*"
        try:
            answer = self.client.put_object(**args)
        except ClientError as exc:
            if conditional and _code(exc) in _TAKEN:  # written before: adopt it if its bytes are this blob
                adopted = self._adopt(name)
                if adopted is not None:
                    self._record(name, adopted, replace=replace)
                    return
                log.error("evidence blob %s: the object at %s does not hold these bytes; writing them as a new version",
                          name, self.location(name))
                return self._write(name, spool, size, sha, md5, conditional=False, replace=True)
            raise BlobError(f"evidence blob {name} could not be written to {self.location(name)}: {_why(exc)}") from None
        except BotoCoreError as exc:
            raise BlobError(f"evidence blob {name} could not be written to {self.location(name)}: {_why(exc)}") from None
        version = answer.get("VersionId")
        if not version or version == "null":
            raise BlobError(f"evidence blob {name}: the store gave no version id (is versioning enabled?)")
        if answer.get("ChecksumSHA256") not in (None, sha_b64):
            raise BlobError(f"evidence blob {name}: the store reports SHA-256 {answer['ChecksumSHA256']}, "
                            f"the bytes sent have {sha_b64}")
        self._record(name, self._confirm(name, version, size, sha_b64), replace=replace)

    def _confirm(self, name: str, version: str, size: int, sha_b64: str | None) -> Recorded:
        """HEAD the written version: its size, S3's SHA-256 and its retention must be what was asked for."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key_for(name), VersionId=version,
                                           ChecksumMode="ENABLED")
        except (ClientError, BotoCoreError) as exc:
            raise BlobError(f"evidence blob {name}: version {version} cannot be read back: {_why(exc)}") from None
        if head.get("ContentLength") != size:
            raise BlobError(f"evidence blob {name}: version {version} holds {head.get('ContentLength')} bytes, not {size}")
        if sha_b64 is not None and head.get("ChecksumSHA256") not in (None, sha_b64):
            raise BlobError(f"evidence blob {name}: version {version} has SHA-256 {head['ChecksumSHA256']}, not {sha_b64}")
        mode, until = head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")
        if mode is None or until is None:
            raise BlobError(f"evidence blob {name}: version {version} was stored without object-lock retention")
        return Recorded(version, size, mode, until.astimezone(timezone.utc))

    def _adopt(self, name: str) -> Recorded | None:
        """The oldest version of the blob's key, if its bytes hash to ``name`` (else None)."""
        versions = [v for v in self.list_versions(self.key_for(name)) if not v.delete_marker]
        if not versions:
            return None
        oldest = min(versions, key=lambda v: v.last_modified)
        try:
            actual, size = self.hash_version(name, oldest.version_id)
            return self._confirm(name, oldest.version_id, size, None) if actual == name else None
        except BlobError:  # unreadable, or stored without retention: not evidence Værn can vouch for
            return None

    def _record(self, name: str, rec: Recorded, *, replace: bool) -> None:
        """Write the version record in its own transaction (durable before any row points at the blob)."""
        values = dict(sha256=name, version_id=rec.version_id, size=rec.size, lock_mode=rec.lock_mode,
                      retain_until=rec.retain_until, stored_at=utcnow())
        with self.engine.begin() as conn:
            if replace:
                done = conn.execute(update(BlobVersion).where(BlobVersion.sha256 == name).values(**values)).rowcount
                if done:
                    log.error("evidence blob %s: its recorded version is now %s", name, rec.version_id)
            if not replace or not done:
                ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(BlobVersion)
                conn.execute(ins.values(**values).on_conflict_do_nothing(index_elements=["sha256"]))
        with self._cache_lock:
            self._cache.pop(name, None)

    # -- reading -------------------------------------------------------------------------------------
    def recorded(self, sha256: str) -> Recorded | None:
        """The version recorded for a blob (None: Værn never stored it)."""
        with self._cache_lock:
            if sha256 in self._cache:
                return self._cache[sha256]
        with self.engine.connect() as conn:
            row = conn.execute(select(BlobVersion.version_id, BlobVersion.size, BlobVersion.lock_mode,
                                      BlobVersion.retain_until).where(BlobVersion.sha256 == sha256)).first()
        if row is None:
            return None
        rec = Recorded(*row)
        with self._cache_lock:
            self._cache[sha256] = rec
        return rec

    def all_recorded(self) -> dict[str, Recorded]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(BlobVersion.sha256, BlobVersion.version_id, BlobVersion.size,
                                       BlobVersion.lock_mode, BlobVersion.retain_until))
            return {r[0]: Recorded(*r[1:]) for r in rows}

    def exists(self, sha256: str) -> bool:
        rec = self.recorded(sha256)
        if rec is None:
            return False
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key_for(sha256), VersionId=rec.version_id)
            return True
        except ClientError as exc:
            if _code(exc) in _GONE:
                return False
            raise BlobError(f"evidence blob {sha256} cannot be looked up: {_why(exc)}") from None

    def _recorded_anew(self, sha256: str) -> bool:
        """Forget the cached record and read it again: True if another process recorded a new version since (it
        found the one this process knew missing or altered and wrote the bytes again)."""
        with self._cache_lock:
            known = self._cache.pop(sha256, None)
        fresh = self.recorded(sha256)
        return known is not None and fresh is not None and fresh.version_id != known.version_id

    def read(self, sha256: str) -> bytes:
        """The blob's bytes (its recorded version), verified; raises BlobMissing or BlobCorrupt."""
        try:
            return b"".join(self.iter_verified(sha256))
        except (BlobMissing, BlobCorrupt):
            if not self._recorded_anew(sha256):
                raise
            return b"".join(self.iter_verified(sha256))

    def iter_verified(self, sha256: str) -> Iterator[bytes]:
        """Yield the recorded version in chunks; raises BlobCorrupt after the last chunk if the hash differs."""
        rec = self.recorded(sha256)
        if rec is None:
            raise BlobMissing(sha256)
        yield from verified_chunks(sha256, self._stream(sha256, rec.version_id))

    def verify(self, sha256: str) -> None:
        """Re-hash one blob's recorded version; raises BlobMissing or BlobCorrupt."""
        try:
            for _ in self.iter_verified(sha256):
                pass
        except (BlobMissing, BlobCorrupt):
            if not self._recorded_anew(sha256):
                raise
            for _ in self.iter_verified(sha256):
                pass

    def hash_version(self, sha256: str, version_id: str) -> tuple[str, int]:
        """Stream one version through SHA-256: (hex digest, size); BlobMissing if that version is gone."""
        digest, size = hashlib.sha256(), 0
        for chunk in self._stream(sha256, version_id):
            digest.update(chunk)
            size += len(chunk)
        return digest.hexdigest(), size

    def _stream(self, sha256: str, version_id: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key_for(sha256), VersionId=version_id)["Body"]
        except ClientError as exc:
            if _code(exc) in _GONE:
                raise BlobMissing(sha256) from None
            raise BlobError(f"evidence blob {sha256} cannot be read from {self.location(sha256)}: {_why(exc)}") from None
        try:
            while chunk := body.read(CHUNK):
                yield chunk
        except BotoCoreError as exc:
            raise BlobError(f"evidence blob {sha256}: reading {self.location(sha256)} failed: {_why(exc)}") from None
        finally:
            body.close()

    def list_versions(self, prefix: str | None = None) -> Iterator[ObjectVersion]:
        """Every object version and delete marker under ``prefix`` (default: the store's), paged."""
        pages = self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket,
                                                                            Prefix=prefix if prefix is not None else self.prefix)
        for page in pages:
            for v in page.get("Versions", []):
                yield ObjectVersion(v["Key"], v["VersionId"], v["LastModified"].astimezone(timezone.utc), v.get("Size"))
            for m in page.get("DeleteMarkers", []):
                yield ObjectVersion(m["Key"], m["VersionId"], m["LastModified"].astimezone(timezone.utc), None,
                                    delete_marker=True)

    # -- retention and erasure (the interface the retention/erasure work builds on) ------------------
    def retention(self, sha256: str) -> Retention:
        """The object lock on the recorded version as the store reports it now (it may have been extended)."""
        rec = self.recorded(sha256)
        if rec is None:
            raise BlobMissing(sha256)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key_for(sha256), VersionId=rec.version_id)
        except ClientError as exc:
            if _code(exc) in _GONE:
                raise BlobMissing(sha256) from None
            raise BlobError(f"evidence blob {sha256} cannot be looked up: {_why(exc)}") from None
        until = head.get("ObjectLockRetainUntilDate")
        return Retention(head.get("ObjectLockMode"), until.astimezone(timezone.utc) if until else None,
                         legal_hold=head.get("ObjectLockLegalHoldStatus") == "ON")

    def extend_retention(self, sha256: str, until: datetime) -> datetime | None:
        """Make the recorded version's object lock last at least until ``until``; never shortens it (COMPLIANCE
        cannot be, and a later date another case needs must stay). Returns the retain-until now in force
        (None: Værn never stored the blob). The new date is written to ``blob_versions`` too."""
        rec = self.recorded(sha256)
        if rec is None:
            return None
        now = self.retention(sha256)
        if now.until is not None and now.until >= until:
            return now.until
        try:
            self.client.put_object_retention(Bucket=self.bucket, Key=self.key_for(sha256), VersionId=rec.version_id,
                                             Retention={"Mode": now.mode or self.lock_mode, "RetainUntilDate": until})
        except (ClientError, BotoCoreError) as exc:
            raise BlobError(f"evidence blob {sha256}: object lock could not be extended to {until.isoformat()}: "
                            f"{_why(exc)}") from None
        with self.engine.begin() as conn:
            conn.execute(update(BlobVersion).where(BlobVersion.sha256 == sha256)
                         .values(retain_until=until, lock_mode=now.mode or self.lock_mode))
        with self._cache_lock:
            self._cache.pop(sha256, None)
        return until

    def delete(self, sha256: str) -> bool:
        """Erase every version of the blob and its version record; False if there was nothing to erase.

        Raises BlobLocked while object-lock retention or a legal hold holds on any version (checked
        before anything is deleted; the store would refuse anyway). The caller must make sure no row
        still points at the blob. Never bypasses GOVERNANCE retention.
        """
        key = self.key_for(sha256)
        versions = [v for v in self.list_versions(key) if v.key == key]
        now = utcnow()
        for v in versions:
            if v.delete_marker:
                continue
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=key, VersionId=v.version_id)
            except ClientError as exc:
                if _code(exc) in _GONE:
                    continue
                raise BlobError(f"evidence blob {sha256} cannot be looked up: {_why(exc)}") from None
            until = head.get("ObjectLockRetainUntilDate")
            if until is not None and until > now:
                raise BlobLocked(sha256, head.get("ObjectLockMode"), until.astimezone(timezone.utc))
            if head.get("ObjectLockLegalHoldStatus") == "ON":
                raise BlobLocked(sha256, "LEGAL_HOLD", None)
        for v in versions:
            try:
                self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=v.version_id)
            except ClientError as exc:
                if _code(exc) not in _GONE:
                    raise BlobError(f"evidence blob {sha256} could not be erased (version {v.version_id}): "
                                    f"{_why(exc)}") from None
        with self.engine.begin() as conn:
            recorded = conn.execute(delete(BlobVersion).where(BlobVersion.sha256 == sha256)).rowcount
        with self._cache_lock:
            self._cache.pop(sha256, None)
        return bool(versions or recorded)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _why(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', '?')}: {err.get('Message', '')}".rstrip(": ")
    return str(exc)
