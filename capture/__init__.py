"""capture/: turn a URL or an uploaded file into an evidence bundle. Imports nothing of Værn's.

The heavy parts (Playwright, mitmproxy) load on first use, so importing ``capture`` stays cheap.
See docs/capture-contract.md.
"""
from __future__ import annotations

import importlib
from typing import Any

from capture.bundle import Artifact, EvidenceBundle, TimestampToken, canonical_json, sha256_hex
from capture.errors import CaptureFailed, CaptureRefused, TimestampError
from capture.options import CaptureOptions, parse_allowed_hosts

_LAZY = {
    "Capturer": "capture.engine",
    "check_url": "capture.policy",
    "ip_allowed": "capture.policy",
    "EgressProxy": "capture.proxy",
    "capture_upload": "capture.upload",
    "request_timestamp": "capture.timestamp",
    "verify_timestamp": "capture.timestamp",
}

__all__ = ["Artifact", "EvidenceBundle", "TimestampToken", "canonical_json", "sha256_hex", "CaptureFailed",
           "CaptureRefused", "TimestampError", "CaptureOptions", "parse_allowed_hosts", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'capture' has no attribute {name!r}")
