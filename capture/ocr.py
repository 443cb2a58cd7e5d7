"""Reading the text in an uploaded picture (OCR) with Tesseract (Debian's tesseract-ocr, Danish and English)
through pytesseract, so HR can search it and the case can show an excerpt.

The result is machine-read and may contain errors; the manifest says so. Bounded in pixels (a larger picture is
scaled down for reading only; the original stays untouched) and in time (the Tesseract process is killed). A
missing Tesseract, a timeout or an error is recorded in the manifest and never fails the upload.
"""
from __future__ import annotations

from typing import Any

from PIL import Image

LANGUAGES = "dan+eng"
TIMEOUT_SECONDS = 30
MAX_PIXELS = 12_000_000  #: about 4000 × 3000; more is scaled down before reading
MAX_CHARS = 100_000


def read_text(img: Image.Image, *, timeout: float = TIMEOUT_SECONDS,
              max_pixels: int = MAX_PIXELS) -> tuple[str | None, dict[str, Any]]:
    """The text Tesseract reads in ``img`` (None if none or it could not run) and what the manifest records."""
    info: dict[str, Any] = {"engine": "tesseract", "languages": LANGUAGES, "machine_read": True,
                            "scaled_to": None, "chars": 0, "error": None}
    try:
        import pytesseract
    except ImportError:
        info["error"] = "pytesseract is not installed"
        return None, info
    try:
        info["engine"] = f"tesseract {pytesseract.get_tesseract_version()}"
        if img.width * img.height > max_pixels:
            factor = (max_pixels / (img.width * img.height)) ** 0.5
            img = img.resize((max(1, int(img.width * factor)), max(1, int(img.height * factor))))
            info["scaled_to"] = [img.width, img.height]
        text = pytesseract.image_to_string(img.convert("RGB"), lang=LANGUAGES, timeout=timeout)
    except pytesseract.TesseractNotFoundError:
        info["error"] = "Tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-dan)"
        return None, info
    except RuntimeError as e:  # pytesseract raises RuntimeError on its timeout
        info["error"] = f"stopped after {timeout:g} s: {e}"[:300]
        return None, info
    except Exception as e:  # noqa: BLE001 - a picture Tesseract cannot read is recorded, not fatal
        info["error"] = f"{e.__class__.__name__}: {e}"[:300]
        return None, info
    text = "\n".join(line.rstrip() for line in text.splitlines()).strip()[:MAX_CHARS]
    info["chars"] = len(text)
    return (text or None), info
