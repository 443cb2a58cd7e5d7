"""Canonical JSON: the exact bytes Værn hashes — evidence manifests, the audit chain, case facts, WACZ.

Its own package below capture and tracker so both use one definition, and a change to how evidence
is serialised cannot silently change every audit hash (``vaern verify`` would call the chain edited).
The output is frozen by tests/test_canonical_json.py: change it only with a migration of every hash.
"""
from __future__ import annotations

import json
from typing import Any

__all__ = ["canonical_json"]


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, UTF-8, no insignificant whitespace, no floats: the same object gives the same bytes."""
    _reject_floats(obj)
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _reject_floats(obj: Any, path: str = "$") -> None:
    if isinstance(obj, float):
        raise TypeError(f"float in manifest at {path}: store numbers as integers or strings")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _reject_floats(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _reject_floats(v, f"{path}[{i}]")
