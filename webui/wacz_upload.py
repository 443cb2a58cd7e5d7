"""A WACZ attached to the report form is checked at once, so a changed one is refused in Danish, naming the file."""
from __future__ import annotations

import re

from flask_babel import gettext as _

from capture.errors import CaptureRefused
from capture.wacz_in import check_wacz, looks_like_wacz

_NAMED = re.compile(r"^(\S+) ")  #: capture/wacz_in.py's reasons start with the file they are about


def wacz_problem(data: bytes) -> str | None:
    """The form's message when ``data`` is a WACZ that fails its checks; None when it is no WACZ or sound."""
    if not looks_like_wacz(data):
        return None
    try:
        check_wacz(data)
    except CaptureRefused as exc:
        match = _NAMED.match(exc.reason)
        path = match.group(1) if match else ""
        if exc.code == "wacz_hash_mismatch":
            return _("The file %(path)s in the web archive (WACZ) does not match its fingerprint: the archive was "
                     "changed or damaged after it was saved, so Værn cannot use it as evidence. Save the archive "
                     "again in ArchiveWeb.page and attach the new file.", path=path)
        if exc.code == "wacz_signature_invalid":
            return _("The web archive's (WACZ) signature does not match its contents: it was changed after it was "
                     "signed. Save the archive again in ArchiveWeb.page and attach the new file.")
        return _("Værn cannot check this web archive (WACZ) safely: %(reason)s. Save the archive again in "
                 "ArchiveWeb.page and attach the new file.", reason=exc.reason)
    return None
