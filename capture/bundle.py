"""The evidence bundle: what one capture (URL or upload) produces, in memory.

A bundle is complete or it does not exist: artifacts are added while the capture runs, then
``seal()`` freezes the manifest (canonical JSON) whose SHA-256 is the evidence fingerprint.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canon import canonical_json  # noqa: F401 - re-exported: capture's callers import it from here

MANIFEST_NAME = "manifest.json"
TIMESTAMP_NAME = "manifest.tsr"
#: the TSA's certificates (PEM) the token was verified against when it was obtained: stored beside the
#: token so ``openssl ts -verify -CAfile`` has what it needs even where no CA file is configured later
TSA_CHAIN_NAME = "manifest.tsa-chain.pem"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Artifact:
    """One file of evidence: its bytes and what it is."""

    name: str  #: file name inside the bundle, e.g. ``screenshot_full.png``
    role: str  #: what it is: screenshot_full, screenshot_viewport, screenshot_post, mhtml, html, text, warc, pdf, original, ...
    media_type: str
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return sha256_hex(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "media_type": self.media_type,
                "size": self.size, "sha256": self.sha256}


@dataclass
class TimestampToken:
    """An RFC 3161 token over manifest.json, verified on receipt."""

    tsr: bytes = field(repr=False)  #: the TimeStampResp as the TSA sent it (DER)
    gen_time: str  #: the TSA's time, ISO 8601 UTC
    serial_number: str
    tsa_url: str
    policy_oid: str = ""
    #: PEM certificates (root first, then intermediates) the token chained to when it was verified
    chain_pem: bytes = field(default=b"", repr=False)


@dataclass
class EvidenceBundle:
    """Artifacts + sealed manifest + fingerprint (+ optional timestamp token)."""

    status: str
    artifacts: list[Artifact]
    manifest: dict[str, Any]
    manifest_bytes: bytes = field(repr=False)
    fingerprint: str
    timestamp: TimestampToken | None = None
    timestamp_error: str | None = None

    @classmethod
    def seal(cls, status: str, artifacts: list[Artifact], manifest: dict[str, Any]) -> "EvidenceBundle":
        """Add the artifact list to ``manifest``, freeze it as canonical JSON and fingerprint it."""
        names = [a.name for a in artifacts]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate artifact names: {names}")
        manifest = dict(manifest)
        manifest["status"] = status
        manifest["artifacts"] = [a.describe() for a in artifacts]
        data = canonical_json(manifest)
        return cls(status=status, artifacts=list(artifacts), manifest=manifest,
                   manifest_bytes=data, fingerprint=sha256_hex(data))

    def artifact(self, role: str) -> Artifact | None:
        return next((a for a in self.artifacts if a.role == role), None)

    def write_to(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write manifest.json, the artifacts and manifest.tsr (if any) into ``out_dir``.

        Each file is written to a temp name, fsynced and renamed; an existing file is never
        overwritten (FileExistsError).
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = [(a.name, a.data) for a in self.artifacts] + [(MANIFEST_NAME, self.manifest_bytes)]
        if self.timestamp is not None:
            files.append((TIMESTAMP_NAME, self.timestamp.tsr))
            if self.timestamp.chain_pem:
                files.append((TSA_CHAIN_NAME, self.timestamp.chain_pem))
        for name, _ in files:
            if (out / name).exists():
                raise FileExistsError(f"{out / name} exists: evidence is never overwritten")
        for name, data in files:
            _write_durably(out / name, data)
        return out


def _write_durably(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o444)  # evidence is read-only once written
        os.link(tmp, path)  # fails if path exists: never overwrite
    finally:
        os.unlink(tmp)
