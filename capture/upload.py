"""Uploaded evidence (phone photo, screenshot, PDF, .eml, WACZ web archive) as a sealed bundle.

The type is sniffed from the bytes, never taken from the name; the original is kept byte for byte.
"""
from __future__ import annotations

import io
import platform
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Callable
from zoneinfo import ZoneInfo

import imagehash
import pillow_heif
from PIL import Image, ImageOps
from pypdf import PasswordType, PdfReader
from pypdf.errors import PyPdfError

from .bundle import Artifact, EvidenceBundle, sha256_hex
from .errors import CaptureRefused
from .exif import read_exif
from .hashing import text_sha256
from .mail import looks_like_email, parse_email
from .ocr import read_text
from .wacz_in import looks_like_wacz
from .options import CaptureOptions
from .timestamp import TimestampError, request_timestamp

pillow_heif.register_heif_opener()  # idempotent; makes Pillow's "HEIF" format available

SCHEMA = "vaern.manifest/1"
LOCAL_TZ = ZoneInfo("Europe/Copenhagen")
PREVIEW_MAX_EDGE = 4096  #: previews larger than this are scaled down (the original stays as is)
_PDF_ERRORS = (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError,
               NotImplementedError, OSError, AssertionError)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}


@dataclass(frozen=True)
class Kind:
    """A sniffed upload type."""

    name: str  #: png, jpeg, webp, heic, pdf, eml
    media_type: str
    ext: str  #: extension of the stored original
    names: tuple[str, ...]  #: file-name extensions that agree with the content
    pillow_format: str | None = None  #: the one Pillow plugin allowed to decode it

    @property
    def is_image(self) -> bool:
        return self.pillow_format is not None


PNG = Kind("png", "image/png", "png", ("png",), "PNG")
JPEG = Kind("jpeg", "image/jpeg", "jpg", ("jpg", "jpeg", "jpe", "jfif"), "JPEG")
WEBP = Kind("webp", "image/webp", "webp", ("webp",), "WEBP")
HEIC = Kind("heic", "image/heic", "heic", ("heic", "heif", "hif"), "HEIF")
PDF = Kind("pdf", "application/pdf", "pdf", ("pdf",))
EML = Kind("eml", "message/rfc822", "eml", ("eml",))
WACZ = Kind("wacz", "application/wacz", "wacz", ("wacz",))  #: checked and replayed by capture/wacz_in.py

#: signatures of common types we refuse, for a clearer reason than "unknown"
_KNOWN_UNSUPPORTED = [(b"PK\x03\x04", "ZIP archive (or Office document)"), (b"MZ", "Windows executable"),
                      (b"\x7fELF", "ELF executable"), (b"GIF8", "GIF image"), (b"Rar!", "RAR archive"),
                      (b"7z\xbc\xaf", "7-Zip archive"), (b"\x1f\x8b", "gzip data"),
                      (b"\xd0\xcf\x11\xe0", "Outlook .msg or old Office document"),
                      (b"II*\x00", "TIFF image"), (b"MM\x00*", "TIFF image"), (b"BM", "BMP image")]


def sniff(data: bytes, *, wacz: bool = False) -> Kind:
    """The upload's type from its magic bytes (e-mail: a plausible RFC 822 header block); CaptureRefused otherwise.

    ``wacz``: the caller secures a WACZ as evidence (capture_upload, the report form); elsewhere (a step's
    attachment) a WACZ is refused, since it would be kept without its checks and replay.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[4:8] == b"ftyp":
        major, compatible = data[8:12], _ftyp_brands(data)
        if major in _HEIF_BRANDS or (major in (b"mif1", b"msf1") and compatible & _HEIF_BRANDS):
            return HEIC
        raise CaptureRefused("unsupported_type", f"ISO media file with brand {major.decode('latin-1')!r} "
                                                 "is not a supported image (HEIC is)")
    if data.startswith(b"%PDF-"):
        return PDF
    if looks_like_email(data):
        return EML
    if looks_like_wacz(data):
        if wacz:
            return WACZ
        raise CaptureRefused("unsupported_type", "a WACZ web archive is secured as evidence (report form or "
                                                 "vaern capture-file), not attached as a plain file")
    if b"%PDF-" in data[:1024]:  # readers accept junk before the header (ISO 32000 tolerance)
        return PDF
    for magic, what in _KNOWN_UNSUPPORTED:
        if data.startswith(magic):
            raise CaptureRefused("unsupported_type", f"{what} is not supported: upload an image, a PDF or an .eml")
    raise CaptureRefused("unsupported_type", "unknown file type: upload PNG, JPEG, WebP, HEIC, PDF or .eml")


def capture_upload(data: bytes, filename: str, options: CaptureOptions, operator: str) -> EvidenceBundle:
    """Seal ``data`` (an uploaded file) as evidence; raise CaptureRefused(code, reason) for refused input.

    Codes: empty, too_large, unsupported_type, corrupt, too_many_pixels, and wacz_* (capture/wacz_in.py). The bundle is timestamped when
    ``options.tsa_url`` is set; a TSA failure leaves it valid with ``timestamp_error`` set.
    """
    run = _Run(operator)
    if not data:
        raise CaptureRefused("empty", "the uploaded file is empty")
    if len(data) > options.upload_max_bytes:
        raise CaptureRefused("too_large", f"the file is {len(data)} bytes; the limit is {options.upload_max_bytes}")
    run.act("receive", f"{len(data)} bytes, name {filename!r}")
    kind = sniff(data, wacz=True)
    declared = _extension(filename)
    matches = declared in kind.names
    mismatch = "" if matches else f"; name says {declared or 'nothing'!r}: mismatch recorded"
    run.act("sniff", f"{kind.name} ({kind.media_type}){mismatch}")
    artifacts = [Artifact(f"original.{kind.ext}", "original", kind.media_type, data)]
    manifest: dict[str, Any] = {
        "original": {"filename": (filename or "")[:1000], "sniffed_type": kind.name, "media_type": kind.media_type,
                     "size": len(data), "sha256": sha256_hex(data), "name_extension": declared or None,
                     "name_matches_content": matches},
        "image": None, "exif": None, "email": None, "pdf": None, "perceptual_hashes": None, "text_sha256": None,
    }
    handler: Callable[[bytes, Kind, CaptureOptions, _Run], tuple[dict[str, Any], list[Artifact]]]
    handler = _image if kind.is_image else _pdf if kind is PDF else _wacz if kind is WACZ else _email
    extra, derived = handler(data, kind, options, run)
    manifest.update(extra)
    artifacts += derived
    manifest.update(_common(run, operator, options))
    return seal_and_timestamp(artifacts, manifest, options)


def seal_and_timestamp(artifacts: list[Artifact], manifest: dict[str, Any], options: CaptureOptions) -> EvidenceBundle:
    """The bundle (status ok) with an RFC 3161 token over its manifest when a TSA is configured; a TSA that
    fails leaves the reason in ``timestamp_error`` (retried later), never the evidence unsealed."""
    bundle = EvidenceBundle.seal("ok", artifacts, manifest)
    if options.tsa_url:
        try:
            bundle.timestamp = request_timestamp(bundle.manifest_bytes, options)
        except TimestampError as e:
            bundle.timestamp_error = e.reason
    return bundle


# -- per type ------------------------------------------------------------------------------------

def _image(data: bytes, kind: Kind, options: CaptureOptions, run: _Run) -> tuple[dict[str, Any], list[Artifact]]:
    img = _open_image(data, kind, options.upload_max_pixels)
    with img:
        frames = getattr(img, "n_frames", 1)
        info = {"width": img.width, "height": img.height, "mode": img.mode, "format": img.format, "frames": frames}
        run.act("decode", f"{img.width}x{img.height} {img.mode}, {frames} frame(s)")
        exif = read_exif(img)
        run.act("exif", "none" if not exif["present"] else
                f"read; GPS {'present' if exif['gps']['present'] else 'absent'}")
        try:
            upright = ImageOps.exif_transpose(img)
        except Exception as e:  # noqa: BLE001 - a broken orientation tag: hash the image as stored
            run.act("orient", f"EXIF orientation not applied: {e.__class__.__name__}")
            upright = img.copy()
    if upright.mode == "P" and "transparency" in upright.info:
        upright = upright.convert("RGBA")  # same RGB values as P -> RGB, without Pillow's palette warning
    rgb = upright.convert("RGB")
    # Same recipe as capture.hashing.perceptual_hashes (convert to RGB, imagehash 64-bit), without a PNG round trip.
    hashes = {"basis": "original", "phash": str(imagehash.phash(rgb)), "dhash": str(imagehash.dhash(rgb))}
    run.act("hash", f"phash {hashes['phash']} dhash {hashes['dhash']} (EXIF orientation applied)")
    artifacts = []
    text, ocr = read_text(rgb)
    run.act("ocr", f"{ocr['chars']} characters read by {ocr['engine']} ({ocr['languages']})" if not ocr["error"]
            else f"not read: {ocr['error']}")
    if text:
        artifacts.append(Artifact("ocr.txt", "ocr_text", "text/plain; charset=utf-8", text.encode("utf-8")))
    if kind in (HEIC, WEBP):  # most browsers cannot show HEIC; WebP not every viewer or PDF export takes
        preview = _preview_png(upright)
        artifacts.append(Artifact("preview.png", "preview", "image/png", preview))
        run.act("preview", f"PNG preview, {len(preview)} bytes")
    return {"image": info, "exif": exif, "perceptual_hashes": hashes, "ocr": ocr}, artifacts


def _open_image(data: bytes, kind: Kind, max_pixels: int) -> Image.Image:
    """Open lazily, check the declared size against ``max_pixels`` before decoding, then decode the first frame.

    Pillow's own bomb check (global Image.MAX_IMAGE_PIXELS) still applies; it is not changed here.
    """
    try:
        img = Image.open(io.BytesIO(data), formats=[kind.pillow_format])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise CaptureRefused("too_many_pixels", f"image declares too many pixels: {e}") from None
    except Exception as e:  # noqa: BLE001 - every decoder failure means the same to the user
        raise CaptureRefused("corrupt", f"the {kind.name.upper()} image cannot be read: {_short(e)}") from None
    pixels = img.width * img.height
    if pixels > max_pixels:
        img.close()
        raise CaptureRefused("too_many_pixels", f"image is {img.width}x{img.height} = {pixels} pixels; "
                                                f"the limit is {max_pixels}")
    try:
        img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        img.close()
        raise CaptureRefused("too_many_pixels", f"image decodes to too many pixels: {e}") from None
    except Exception as e:  # noqa: BLE001 - truncated, bad CRC, bad Huffman table, libheif error ...
        img.close()
        raise CaptureRefused("corrupt", f"the {kind.name.upper()} image is damaged or truncated: {_short(e)}") \
            from None
    return img


def _preview_png(img: Image.Image) -> bytes:
    preview = img if img.mode in ("RGB", "RGBA", "L", "LA") else img.convert("RGBA" if "A" in img.mode else "RGB")
    if max(preview.size) > PREVIEW_MAX_EDGE:
        preview = preview.copy()
        preview.thumbnail((PREVIEW_MAX_EDGE, PREVIEW_MAX_EDGE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    preview.save(out, "PNG", optimize=False)
    return out.getvalue()


def _pdf(data: bytes, kind: Kind, options: CaptureOptions, run: _Run) -> tuple[dict[str, Any], list[Artifact]]:
    """Page count and producer/creator via pypdf; nothing is rendered, no script runs.

    A PDF that needs a password to open is kept, with ``pages`` null and ``password_required`` true.
    """
    start = data.find(b"%PDF-")
    version = data[start + 5:start + 8].decode("latin-1", errors="replace")
    info: dict[str, Any] = {"pages": None, "version": version, "header_offset": start, "encrypted": False,
                            "password_required": False, "producer": None, "creator": None}
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        info["encrypted"] = reader.is_encrypted
        # many "protected" PDFs only restrict printing: the empty user password opens them
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            info["password_required"] = True
        else:
            info["pages"] = len(reader.pages)
    except _PDF_ERRORS as e:
        raise CaptureRefused("corrupt", f"the PDF cannot be read: {_short(e)}") from None
    if not info["password_required"]:
        try:
            meta = reader.metadata or {}
            for key in ("producer", "creator"):
                value = meta.get(f"/{key.capitalize()}")
                info[key] = str(value).replace("\x00", "")[:500] if value is not None else None
        except _PDF_ERRORS as e:  # a broken Info dictionary: keep the PDF, note it
            info["metadata_error"] = _short(e)
    run.act("parse_pdf", f"PDF {version}, {info['pages']} page(s)"
            + (", encrypted" if info["encrypted"] else "") + (", password required" if info["password_required"] else ""))
    if start:
        run.act("parse_pdf", f"header found at byte {start}, not at the start")
    return {"pdf": info}, []


def _email(data: bytes, kind: Kind, options: CaptureOptions, run: _Run) -> tuple[dict[str, Any], list[Artifact]]:
    try:
        info, text = parse_email(data)
    except Exception as e:  # noqa: BLE001 - a plausible mail the parser chokes on is still evidence
        run.act("parse_email", f"not parsed: {_short(e)}")
        return {"email": {"error": _short(e)}}, []
    run.act("parse_email", f"{len(info['attachments'])} attachment(s), body {info['body_content_type']}")
    artifacts = [Artifact("text.txt", "text", "text/plain; charset=utf-8", text.encode("utf-8"))]
    return {"email": info, "text_sha256": text_sha256(text)}, artifacts


def _wacz(data: bytes, kind: Kind, options: CaptureOptions, run: _Run) -> tuple[dict[str, Any], list[Artifact]]:
    """Hashes and signature checked, then replayed offline in the browser (capture/wacz_in.py, capture/replay.py)."""
    from .wacz_in import examine

    return examine(data, options, run.operator, run)


# -- common --------------------------------------------------------------------------------------

class _Run:
    """Start time and the actions log of one upload capture."""

    def __init__(self, operator: str = "") -> None:
        self.operator = operator
        self.started = datetime.now(timezone.utc)
        self.actions: list[dict[str, str]] = []

    def act(self, step: str, detail: str) -> None:
        self.actions.append({"at": _utc(datetime.now(timezone.utc)), "step": step, "detail": detail})


def _common(run: _Run, operator: str, options: CaptureOptions) -> dict[str, Any]:
    ended = datetime.now(timezone.utc)
    return {
        "schema": SCHEMA, "kind": "upload", "capture_id": uuid.uuid4().hex, "operator": operator,
        "started_at_utc": _utc(run.started), "ended_at_utc": _utc(ended),
        "started_at_local": _local(run.started), "ended_at_local": _local(ended),
        "versions": {**_versions(), **options.versions}, "actions": run.actions,
    }


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for dist in ("pillow", "pillow-heif", "imagehash", "pypdf", "warcio", "cryptography", "playwright"):
        try:
            found[dist.replace("-", "_")] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    found["libheif"] = str(pillow_heif.libheif_version())
    return found


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _local(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).isoformat(timespec="microseconds")


def _extension(filename: str) -> str:
    base = PureWindowsPath(PurePosixPath(filename or "").name).name
    return base.rpartition(".")[2].lower() if "." in base else ""


def _ftyp_brands(data: bytes) -> set[bytes]:
    size = int.from_bytes(data[:4], "big")
    box = data[16:min(max(size, 16), 4096)]
    return {box[i:i + 4] for i in range(0, len(box) - 3, 4)}


def _short(e: BaseException) -> str:
    return " ".join(f"{e.__class__.__name__}: {e}".split())[:300]
