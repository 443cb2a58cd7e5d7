"""EXIF of an uploaded image as manifest values: strings and integers only (the manifest has no floats)."""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

from PIL import ExifTags, Image, TiffImagePlugin

_BASE = {"camera_make": ExifTags.Base.Make, "camera_model": ExifTags.Base.Model,
         "software": ExifTags.Base.Software, "orientation": ExifTags.Base.Orientation,
         "datetime": ExifTags.Base.DateTime}
_EXIF = {"datetime_original": ExifTags.Base.DateTimeOriginal,
         "offset_time_original": ExifTags.Base.OffsetTimeOriginal,
         "datetime_digitized": ExifTags.Base.DateTimeDigitized,
         "lens_model": ExifTags.Base.LensModel}
_GPS = {"latitude_ref": ExifTags.GPS.GPSLatitudeRef, "latitude_dms": ExifTags.GPS.GPSLatitude,
        "longitude_ref": ExifTags.GPS.GPSLongitudeRef, "longitude_dms": ExifTags.GPS.GPSLongitude,
        "altitude_ref": ExifTags.GPS.GPSAltitudeRef, "altitude": ExifTags.GPS.GPSAltitude,
        "timestamp": ExifTags.GPS.GPSTimeStamp, "datestamp": ExifTags.GPS.GPSDateStamp}
MAX_STRING = 500


def read_exif(img: Image.Image) -> dict[str, Any]:
    """Camera, times, software, orientation and GPS (present, coordinates as decimal-degree strings).

    A damaged EXIF block is reported in ``error``, never raised: the image itself is still evidence.
    """
    out: dict[str, Any] = {"present": False, **{k: None for k in (*_BASE, *_EXIF)},
                           "gps": {"present": False, "latitude": None, "longitude": None}}
    try:
        exif = img.getexif()
        if not exif:
            return out
        out["present"] = True
        for key, tag in _BASE.items():
            out[key] = _value(exif.get(tag))
        exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
        for key, tag in _EXIF.items():
            out[key] = _value(exif_ifd.get(tag))
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        if gps_ifd:
            gps: dict[str, Any] = {"present": True}
            gps.update({key: _value(gps_ifd.get(tag)) for key, tag in _GPS.items()})
            gps["latitude"] = _degrees(gps_ifd.get(ExifTags.GPS.GPSLatitude), gps["latitude_ref"], "S")
            gps["longitude"] = _degrees(gps_ifd.get(ExifTags.GPS.GPSLongitude), gps["longitude_ref"], "W")
            out["gps"] = gps
    except Exception as e:  # noqa: BLE001 - any malformed EXIF: record, keep the image
        out["error"] = f"{e.__class__.__name__}: {e}"[:MAX_STRING]
    return out


def _value(value: Any) -> Any:
    """An EXIF value as int, str or a list of them; rationals as "numerator/denominator"."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, TiffImagePlugin.IFDRational):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes):
        text = value.rstrip(b"\x00")
        try:
            return text.decode("ascii")[:MAX_STRING]
        except UnicodeDecodeError:
            return "hex:" + text[:MAX_STRING].hex()
    if isinstance(value, str):
        return value.replace("\x00", "").strip()[:MAX_STRING]
    if isinstance(value, (tuple, list)):
        return [_value(v) for v in value[:32]]
    return str(value)[:MAX_STRING]


def _fraction(value: Any) -> Fraction | None:
    if isinstance(value, TiffImagePlugin.IFDRational):
        if not value.denominator:
            return None
        return Fraction(value.numerator, value.denominator)
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(value).limit_denominator(10**9)
    return None


def _degrees(dms: Any, ref: Any, negative_ref: str) -> str | None:
    """(degrees, minutes, seconds) + N/S/E/W as a signed decimal string with 7 decimals (~1 cm)."""
    if not isinstance(dms, (tuple, list)) or len(dms) != 3:
        return None
    parts = [_fraction(v) for v in dms]
    if any(p is None for p in parts):
        return None
    value = parts[0] + parts[1] / 60 + parts[2] / 3600
    if isinstance(ref, str) and ref.strip().upper() == negative_ref:
        value = -value
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return str(exact.quantize(Decimal("0.0000001"), rounding=ROUND_HALF_EVEN))
