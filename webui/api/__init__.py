"""The JSON API (v1) under /api/v1: bearer tokens, the pages' permission rules and audit, JSON in and out.

One module per resource (cases, steps, rechecks, letters, exports, offenders), each route declared once
with ``core.operation`` — the registry the OpenAPI document (``openapi``: ``GET /api/v1/openapi.json`` and
the page ``GET /api/v1/docs``) is built from. Every route needs ``Authorization: Bearer vaern_…``
(``vaern token create``) except those two. The API reads no cookie and sets none, so it is exempt from
CSRF (a browser cannot attach the header to a forged cross-site request). A case the token's user may not
see is a 404, exactly like a case that does not exist.

Times are ISO 8601 with the offset, in Europe/Copenhagen local time (e.g. ``2026-11-20T14:05:00+01:00``);
input times must carry an offset (``Z`` or ``±HH:MM``). Errors are JSON ``{"error": <English sentence>,
"code": <stable code>, "field": <input field or null>}``: 400 for wrong input (``bad_json``,
``unknown_field``, ``wrong_type``, ``…_malformed``/``…_naive`` times, or the domain's own DomainError code),
401 ``unauthorized`` (with ``WWW-Authenticate: Bearer realm="vaern"``), 403 ``not_allowed`` (the role may
not do this on a case it sees), 404 ``not_found``, 405 ``method_not_allowed`` (with ``Allow``), 409 for a
state that does not allow the change (``core.CONFLICT_CODES``), 413 ``too_large``, 415
``unsupported_media_type``, 500 ``internal_error`` or ``integrity_error``.
"""
from __future__ import annotations

# registers the routes, in the order the OpenAPI document and its page list them
from webui.api import cases, steps, rechecks, letters, exports, offenders, openapi  # noqa: F401, I001
from webui.api.core import bp, init_app

__all__ = ["bp", "init_app"]
