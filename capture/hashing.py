"""Derived fingerprints: perceptual image hashes and the normalised-text hash.

Perceptual hashes are taken of the post element (viewport if none) because full-page hashes change
with viewport and scroll (tech.md §3); they corroborate identity, the text hash decides it.
"""
from __future__ import annotations

import hashlib
import io
import unicodedata

import imagehash
from PIL import Image


def perceptual_hashes(png: bytes, basis: str) -> dict[str, str]:
    """64-bit pHash and dHash of ``png`` as 16 hex digits; ``basis`` names the artifact role hashed."""
    with Image.open(io.BytesIO(png)) as img:
        rgb = img.convert("RGB")
    return {"basis": basis, "phash": str(imagehash.phash(rgb)), "dhash": str(imagehash.dhash(rgb))}


def normalise_text(text: str) -> str:
    """NFC, every run of Unicode whitespace collapsed to one space, stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def text_sha256(text: str | None) -> str | None:
    """SHA-256 hex of the normalised text; None when there is no text to hash."""
    if text is None:
        return None
    norm = normalise_text(text)
    return hashlib.sha256(norm.encode("utf-8")).hexdigest() if norm else None
