"""Uploaded evidence: real files made in the test, sniffed, hashed, sealed and (optionally) timestamped."""
from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
import hashlib
import io
import json
import struct
import zlib

import pillow_heif
import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational
from pypdf import PdfWriter

from capture.bundle import sha256_hex
from capture.errors import CaptureRefused
from capture.hashing import perceptual_hashes, text_sha256
from capture.options import CaptureOptions
from capture.timestamp import verify_timestamp
from capture.upload import capture_upload
from tests.support.tsa import LocalTSA

OPTIONS = CaptureOptions(versions={"vaern": "0.1.0"})
OPERATOR = "Åse Ørsted (HR, Aarhus Kommune)"
TIME_KEYS = {"capture_id", "started_at_utc", "ended_at_utc", "started_at_local", "ended_at_local", "actions"}


# -- real files, made here --------------------------------------------------------------------------

def picture(size=(320, 240)) -> Image.Image:
    """A non-uniform picture, so perceptual hashes mean something."""
    base = Image.radial_gradient("L").resize(size)
    return Image.merge("RGB", (base, base.rotate(90), Image.linear_gradient("L").resize(size)))


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def phone_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Apple"
    exif[ExifTags.Base.Model] = "iPhone 15"
    exif[ExifTags.Base.Software] = "17.1"
    exif[ExifTags.Base.Orientation] = orientation
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:11:20 21:14:03"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (IFDRational(56), IFDRational(9), IFDRational(3456, 100))
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (IFDRational(10), IFDRational(12), IFDRational(567, 10))
    return exif


def minimal_pdf(pages: int = 2) -> bytes:
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + i) for i in range(pages))
               + b"] /Count %d >>" % pages,
               b"<< /Producer (Test Producer 1.0) /Creator (Writer) >>"]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * pages
    out, offsets = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 3 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


ATTACHMENT = encode(picture((40, 30)), "PNG")
DANISH_SUBJECT = "Trusler mod sagsbehandler på Jobcentret – æøå"
BODY = "Hej,\n\nJeg ved hvor du bor. Du skal passe på.\n\nVenlig hilsen en \"borger\""


def danish_eml() -> bytes:
    """A multipart mail as a client sends it: RFC 2047 subject, quoted-printable body, base64 attachment."""
    subject = "=?UTF-8?B?" + base64.b64encode(DANISH_SUBJECT.encode()).decode() + "?="
    qp_body = BODY.replace("å", "=C3=A5").replace("\n", "\r\n")
    attachment = base64.encodebytes(ATTACHMENT).decode().replace("\n", "\r\n")
    return (
        "Return-Path: <anon123@example.net>\r\n"
        "Received: from mail.example.net (mail.example.net [192.0.2.10])\r\n"
        "\tby mx.aarhus.dk with ESMTPS id 4Xy; Fri, 20 Nov 2026 21:14:05 +0100\r\n"
        "From: Anonym Borger <anon123@example.net>\r\n"
        "To: =?UTF-8?Q?S=C3=B8ren_S=C3=B8rensen?= <soren@aarhus.dk>\r\n"
        "Cc: jobcenter@aarhus.dk\r\n"
        f"Subject: {subject}\r\n"
        "Date: Fri, 20 Nov 2026 21:14:03 +0100\r\n"
        "Message-ID: <20261120211403.1234@example.net>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="XYZ"\r\n'
        "\r\n"
        "--XYZ\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        f"{qp_body}\r\n"
        "--XYZ\r\n"
        'Content-Type: image/png; name="billede af dig.png"\r\n'
        'Content-Disposition: attachment; filename="billede af dig.png"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        f"{attachment}"
        "--XYZ--\r\n"
    ).encode("ascii")


def png_declaring(width: int, height: int, bit_depth: int = 8, colour: int = 2, idat: bytes = b"") -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat or zlib.compress(b"\0")) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def real_png_bomb(side: int = 20_000) -> bytes:
    """A 1-bit PNG whose valid zlib stream inflates to side*side pixels (~50 MB raw, ~50 kB on disk)."""
    row = b"\0" * (1 + side // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    return png_declaring(side, side, bit_depth=1, colour=0, idat=idat)


def refused(data: bytes, name: str = "evidence.bin", options: CaptureOptions = OPTIONS) -> CaptureRefused:
    with pytest.raises(CaptureRefused) as caught:
        capture_upload(data, name, options, OPERATOR)
    assert "\n" not in caught.value.reason
    return caught.value


# -- images -------------------------------------------------------------------------------------

def test_a_phone_jpeg_keeps_its_bytes_and_its_exif_including_gps_lands_in_the_manifest():
    data = encode(picture(), "JPEG", exif=phone_exif())
    bundle = capture_upload(data, "IMG_0042.JPG", OPTIONS, OPERATOR)
    m = bundle.manifest
    assert bundle.status == "ok" and m["kind"] == "upload" and m["schema"] == "vaern.manifest/1"
    original = bundle.artifact("original")
    assert original.name == "original.jpg" and original.data == data and original.media_type == "image/jpeg"
    assert m["original"] == {"filename": "IMG_0042.JPG", "sniffed_type": "jpeg", "media_type": "image/jpeg",
                             "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                             "name_extension": "jpg", "name_matches_content": True}
    exif = m["exif"]
    assert (exif["camera_make"], exif["camera_model"], exif["software"]) == ("Apple", "iPhone 15", "17.1")
    assert exif["datetime_original"] == "2026:11:20 21:14:03" and exif["orientation"] == 1
    assert exif["gps"]["present"] is True
    assert exif["gps"]["latitude"] == "56.1596000" and exif["gps"]["longitude"] == "10.2157500"
    assert exif["gps"]["latitude_dms"] == ["56/1", "9/1", "864/25"]
    assert m["versions"]["vaern"] == "0.1.0" and m["versions"]["pillow"] and m["versions"]["imagehash"]
    assert m["perceptual_hashes"]["basis"] == "original"
    assert len(m["perceptual_hashes"]["phash"]) == 16 and len(m["perceptual_hashes"]["dhash"]) == 16
    assert m["email"] is None and m["pdf"] is None and m["text_sha256"] is None
    assert bundle.artifact("preview") is None  # browsers show JPEG themselves


def test_an_image_without_exif_says_so():
    bundle = capture_upload(encode(picture(), "PNG"), "skærmbillede.png", OPTIONS, OPERATOR)
    assert bundle.manifest["exif"]["present"] is False
    assert bundle.manifest["exif"]["gps"] == {"present": False, "latitude": None, "longitude": None}


def test_perceptual_hashes_are_those_of_the_upright_image_and_match_the_shared_helper():
    upright = picture()
    stored_sideways = upright.transpose(Image.Transpose.ROTATE_90)  # orientation 6 turns it back
    sideways = capture_upload(encode(stored_sideways, "PNG", exif=phone_exif(orientation=6)), "a.png",
                              OPTIONS, OPERATOR)
    plain = capture_upload(encode(upright, "PNG"), "b.png", OPTIONS, OPERATOR)
    assert sideways.manifest["perceptual_hashes"] == plain.manifest["perceptual_hashes"]
    assert sideways.manifest["exif"]["orientation"] == 6
    assert plain.manifest["perceptual_hashes"] == perceptual_hashes(encode(upright, "PNG"), "original")


def test_a_palette_png_with_transparency_is_hashed_like_the_shared_helper_without_warnings():
    img = picture((64, 64)).convert("P")
    data = encode(img, "PNG", transparency=bytes(range(256)))
    hashes = capture_upload(data, "p.png", OPTIONS, OPERATOR).manifest["perceptual_hashes"]
    assert hashes == perceptual_hashes(encode(img.convert("RGB"), "PNG"), "original")


def test_webp_gets_a_png_preview():
    bundle = capture_upload(encode(picture(), "WEBP", lossless=True), "x.webp", OPTIONS, OPERATOR)
    preview = bundle.artifact("preview")
    assert bundle.artifact("original").name == "original.webp"
    assert preview.name == "preview.png" and preview.media_type == "image/png"
    with Image.open(io.BytesIO(preview.data)) as img:
        assert img.format == "PNG" and img.size == (320, 240)


def test_heic_from_an_iphone_is_accepted_with_a_png_preview():
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("this libheif build has no HEVC encoder to make a test HEIC")
    data = encode(picture(), "HEIF", exif=phone_exif())
    assert data[4:12] == b"ftypheic"
    bundle = capture_upload(data, "IMG_0001.HEIC", OPTIONS, OPERATOR)
    assert bundle.artifact("original").name == "original.heic"
    assert bundle.manifest["original"]["sniffed_type"] == "heic"
    assert bundle.manifest["exif"]["camera_model"] == "iPhone 15"
    assert bundle.manifest["exif"]["gps"]["present"] is True
    with Image.open(io.BytesIO(bundle.artifact("preview").data)) as img:
        assert img.format == "PNG" and img.size == (320, 240)


def test_the_type_comes_from_the_bytes_and_a_misleading_name_is_recorded_not_refused():
    data = encode(picture(), "PNG")
    bundle = capture_upload(data, "kontrakt.pdf", OPTIONS, OPERATOR)
    assert bundle.manifest["original"]["sniffed_type"] == "png"
    assert bundle.manifest["original"]["name_extension"] == "pdf"
    assert bundle.manifest["original"]["name_matches_content"] is False
    assert bundle.artifact("original").name == "original.png"
    assert any("mismatch" in a["detail"] for a in bundle.manifest["actions"])


def test_a_truncated_jpeg_is_refused_as_corrupt():
    data = encode(picture((640, 480)), "JPEG", quality=95)
    assert refused(data[: len(data) // 2], "half.jpg").code == "corrupt"


def test_a_png_with_a_damaged_chunk_is_refused_as_corrupt():
    data = bytearray(encode(picture(), "PNG"))
    data[60] ^= 0xFF  # inside IDAT: the CRC no longer matches
    assert refused(bytes(data), "x.png").code == "corrupt"


def test_a_decompression_bomb_is_refused_before_it_is_decoded():
    bomb = real_png_bomb()
    assert len(bomb) < 200_000
    error = refused(bomb, "bomb.png")
    assert error.code == "too_many_pixels"


def test_a_small_png_declaring_a_huge_canvas_is_refused():
    assert refused(png_declaring(100_000, 100_000), "huge.png").code == "too_many_pixels"


def test_an_image_just_over_the_pixel_limit_is_refused():
    assert refused(png_declaring(10_000, 9_000), "90mp.png").code == "too_many_pixels"


def test_the_pixel_limit_is_per_call_and_leaves_pillow_global_alone():
    before = Image.MAX_IMAGE_PIXELS
    data = encode(picture((100, 100)), "PNG")
    strict = CaptureOptions(upload_max_pixels=9_999)
    assert refused(data, "x.png", strict).code == "too_many_pixels"
    assert capture_upload(data, "x.png", OPTIONS, OPERATOR).status == "ok"
    assert Image.MAX_IMAGE_PIXELS == before


# -- refusals ------------------------------------------------------------------------------------

def test_an_empty_file_is_refused():
    assert refused(b"", "empty.png").code == "empty"


def test_a_file_over_the_size_cap_is_refused():
    assert refused(encode(picture(), "PNG"), "x.png", CaptureOptions(upload_max_bytes=100)).code == "too_large"


@pytest.mark.parametrize("data, what", [
    (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\0" * 100, "ZIP"),
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\0" * 100, "executable"),
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "GIF"),
    (b"just some text someone typed\n", "unknown"),
    (b"From: someone@example.net\n\nonly a From header is not an e-mail\n", "unknown"),
])
def test_unsupported_types_are_refused_with_a_reason(data, what):
    error = refused(data, "evidence.png")
    assert error.code == "unsupported_type" and what in error.reason


# -- PDF -----------------------------------------------------------------------------------------

def test_a_pdf_is_kept_and_its_page_count_and_producer_recorded():
    data = minimal_pdf(pages=2)
    bundle = capture_upload(data, "anmeldelse.pdf", OPTIONS, OPERATOR)
    assert bundle.artifact("original").name == "original.pdf" and bundle.artifact("original").data == data
    pdf = bundle.manifest["pdf"]
    assert pdf["pages"] == 2 and pdf["producer"] == "Test Producer 1.0" and pdf["creator"] == "Writer"
    assert pdf["version"] == "1.7" and pdf["encrypted"] is False
    assert bundle.manifest["perceptual_hashes"] is None and bundle.manifest["exif"] is None


def test_a_pdf_with_junk_before_its_header_is_still_a_pdf():
    bundle = capture_upload(b"\r\n\r\n" + minimal_pdf(pages=1), "x.pdf", OPTIONS, OPERATOR)
    assert bundle.manifest["original"]["sniffed_type"] == "pdf" and bundle.manifest["pdf"]["header_offset"] == 4


def encrypted_pdf(user_password: str) -> bytes:
    writer = PdfWriter()
    for _ in range(3):
        writer.add_blank_page(595, 842)
    writer.encrypt(user_password=user_password, owner_password="ejer", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_pdf_that_needs_a_password_is_kept_without_a_page_count():
    bundle = capture_upload(encrypted_pdf("hemmelig"), "x.pdf", OPTIONS, OPERATOR)
    pdf = bundle.manifest["pdf"]
    assert pdf["encrypted"] is True and pdf["password_required"] is True and pdf["pages"] is None


def test_a_pdf_that_only_restricts_printing_has_its_pages_counted():
    pdf = capture_upload(encrypted_pdf(""), "x.pdf", OPTIONS, OPERATOR).manifest["pdf"]
    assert pdf["encrypted"] is True and pdf["password_required"] is False and pdf["pages"] == 3


def test_a_pdf_that_is_only_a_header_is_refused_as_corrupt():
    assert refused(b"%PDF-1.7\n%garbage and nothing else\n", "x.pdf").code == "corrupt"


# -- e-mail --------------------------------------------------------------------------------------

def test_an_eml_has_its_headers_decoded_its_text_kept_and_its_attachment_fingerprinted():
    data = danish_eml()
    assert b"=?UTF-8?B?" in data and "på".encode() not in data.split(b"\r\n\r\n")[0]
    bundle = capture_upload(data, "trussel.eml", OPTIONS, OPERATOR)
    mail = bundle.manifest["email"]
    assert mail["subject"] == DANISH_SUBJECT
    assert mail["from"] == "Anonym Borger <anon123@example.net>"
    assert mail["to"] == "Søren Sørensen <soren@aarhus.dk>" and mail["cc"] == "jobcenter@aarhus.dk"
    assert mail["date"] == "Fri, 20 Nov 2026 21:14:03 +0100" and mail["date_utc"] == "2026-11-20T20:14:03Z"
    assert mail["message_id"] == "<20261120211403.1234@example.net>"
    assert mail["received"][0].startswith("from mail.example.net")
    assert mail["attachments"] == [{"filename": "billede af dig.png", "content_type": "image/png",
                                    "size": len(ATTACHMENT), "sha256": sha256_hex(ATTACHMENT)}]
    text = bundle.artifact("text")
    assert text.name == "text.txt" and text.media_type == "text/plain; charset=utf-8"
    assert "Du skal passe på." in text.data.decode("utf-8")
    assert bundle.manifest["text_sha256"] == text_sha256(text.data.decode("utf-8"))
    assert bundle.artifact("original").name == "original.eml" and bundle.artifact("original").data == data


def test_a_mail_saved_with_an_mbox_from_line_and_talking_about_pdfs_is_still_a_mail():
    data = (b"From - Fri Nov 20 21:14:03 2026\r\n"
            b"From: a@example.net\r\nTo: b@aarhus.dk\r\nSubject: din %PDF-1.7 fil\r\n"
            b"Date: Fri, 20 Nov 2026 21:14:03 +0100\r\n\r\nHej\r\n")
    bundle = capture_upload(data, "x.eml", OPTIONS, OPERATOR)
    assert bundle.manifest["original"]["sniffed_type"] == "eml"
    assert bundle.manifest["email"]["from"] == "a@example.net"
    assert bundle.manifest["email"]["subject"] == "din %PDF-1.7 fil"
    assert bundle.artifact("text").data == b"Hej\n"


def test_an_html_only_mail_yields_its_visible_text_without_scripts():
    data = (b"From: a@example.net\r\nTo: b@aarhus.dk\r\nSubject: hej\r\nDate: Fri, 20 Nov 2026 10:00:00 +0000\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            b"<html><head><style>p{}</style><script>alert(1)</script></head>"
            b"<body><p>Du er <b>f\xc3\xa6rdig</b></p><p>Linje 2</p></body></html>\r\n")
    bundle = capture_upload(data, "mail.txt", OPTIONS, OPERATOR)
    assert bundle.artifact("text").data.decode() == "Du er færdig\nLinje 2"
    assert bundle.manifest["original"]["name_matches_content"] is False


# -- the bundle as a whole -----------------------------------------------------------------------

def test_the_same_upload_gives_the_same_manifest_apart_from_time_and_id():
    data = encode(picture(), "JPEG", exif=phone_exif())
    first, second = (capture_upload(data, "x.jpg", OPTIONS, OPERATOR) for _ in range(2))
    strip = lambda m: {k: v for k, v in m.items() if k not in TIME_KEYS}  # noqa: E731
    assert strip(first.manifest) == strip(second.manifest)
    assert first.manifest["original"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert [a["step"] for a in first.manifest["actions"]] == [a["step"] for a in second.manifest["actions"]]
    assert first.fingerprint != second.fingerprint  # different capture ids and times


def test_times_are_utc_with_microseconds_and_copenhagen_with_offset():
    m = capture_upload(encode(picture(), "PNG"), "x.png", OPTIONS, OPERATOR).manifest
    assert m["started_at_utc"].endswith("Z") and len(m["started_at_utc"]) == 27
    assert m["started_at_local"][-6:] in ("+01:00", "+02:00")
    assert m["started_at_utc"] <= m["ended_at_utc"] and len(m["capture_id"]) == 32


@pytest.mark.parametrize("make", [
    lambda: encode(picture(), "WEBP"), danish_eml, minimal_pdf,
])
def test_written_files_match_the_hashes_in_the_manifest(make, tmp_path):
    bundle = capture_upload(make(), "upload", OPTIONS, OPERATOR)
    out = bundle.write_to(tmp_path)
    manifest_bytes = (out / "manifest.json").read_bytes()
    assert manifest_bytes == bundle.manifest_bytes and hashlib.sha256(manifest_bytes).hexdigest() == bundle.fingerprint
    listed = json.loads(manifest_bytes)["artifacts"]
    assert {a["name"] for a in listed} | {"manifest.json"} == {p.name for p in out.iterdir()}
    for entry in listed:
        data = (out / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["size"]


def test_uploads_in_parallel_threads_do_not_disturb_each_other():
    good = encode(picture(), "JPEG", exif=phone_exif())
    expected = capture_upload(good, "x.jpg", OPTIONS, OPERATOR).manifest["perceptual_hashes"]
    bomb = png_declaring(100_000, 100_000)
    strict = CaptureOptions(upload_max_pixels=100)

    def one(i: int) -> str:
        try:
            if i % 3 == 0:
                capture_upload(bomb, "b.png", OPTIONS, OPERATOR)
            elif i % 3 == 1:
                capture_upload(good, "x.jpg", strict, OPERATOR)
            else:
                return capture_upload(good, "x.jpg", OPTIONS, OPERATOR).manifest["perceptual_hashes"]["phash"]
        except CaptureRefused as e:
            return e.code
        return "accepted"

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, range(24)))
    assert results == ["too_many_pixels", "too_many_pixels", expected["phash"]] * 8


# -- timestamping --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_tsa(tmp_path_factory):
    with LocalTSA(tmp_path_factory.mktemp("tsa")) as tsa:
        yield tsa


def test_an_upload_is_timestamped_when_a_tsa_is_configured(local_tsa):
    options = CaptureOptions(tsa_url=local_tsa.url, tsa_ca_file=local_tsa.ca_file)
    bundle = capture_upload(minimal_pdf(), "x.pdf", options, OPERATOR)
    assert bundle.timestamp is not None and bundle.timestamp_error is None
    assert verify_timestamp(bundle.timestamp.tsr, bundle.manifest_bytes, local_tsa.ca_file).serial_number


def test_a_tsa_outage_leaves_the_upload_valid_but_not_timestamped(local_tsa):
    options = CaptureOptions(tsa_url=local_tsa.url, tsa_ca_file=local_tsa.ca_file)
    local_tsa.outage = 503
    try:
        bundle = capture_upload(minimal_pdf(), "x.pdf", options, OPERATOR)
    finally:
        local_tsa.outage = None
    assert bundle.status == "ok" and bundle.timestamp is None
    assert bundle.timestamp_error == "TSA answered HTTP 503 Service Unavailable"
