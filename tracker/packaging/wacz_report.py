"""What the evidence reports say of a WACZ recorded in the employee's own browser (capture/wacz_in.py), in Danish.

Only what the manifest records as checked is stated as checked; the rest is said to be unchecked.
"""
from __future__ import annotations

from typing import Any


def wacz_lines(wacz: dict[str, Any] | None) -> list[str] | None:
    """The report's lines for a manifest's ``wacz`` part; None for any other upload."""
    if not isinstance(wacz, dict):
        return None
    ver = wacz.get("verification") or {}
    digest = ver.get("digest") or {}
    sig = digest.get("signature") or {}
    main = wacz.get("main_page") or {}
    replay = wacz.get("replay") or {}
    lines = [f"Arkivets opbygning er kontrolleret (sikre filnavne, ingen zip-bombe), og {ver.get('files_checked', 0)} "
             "fil(er) passer med deres kontrolsum i datapackage.json."]
    lines.append("datapackage.json passer med kontrolsummen i datapackage-digest.json." if digest.get("present")
                 else "Arkivet har ingen datapackage-digest.json: selve fillisten er ikke forseglet.")
    status = sig.get("status")
    if status == "valid":
        lines.append("Signaturen er gyldig (anonym nøgle; SHA-256 af nøglen "
                     f"{sig.get('public_key_sha256', '—')}): arkivet er uændret, siden nøglen signerede det. "
                     "Hvem der har nøglen, er ikke fastslået.")
    elif status == "not_verified":
        who = f" ({sig['domain']})" if sig.get("domain") else ""
        lines.append(f"Arkivet har en signatur med domæne-identitet{who}; den er ikke kontrolleret af Værn.")
    else:
        lines.append("Arkivet er ikke signeret.")
    lines.append(f"Siden {main.get('url') or '—'} er genafspillet fra arkivet i Værns browser uden netværk "
                 f"({len(replay.get('served') or [])} svar fra arkivet, {len(replay.get('blocked') or [])} "
                 "forespørgsler afvist).")
    removed = sum(sum((w.get("removed_headers") or {}).values()) for w in wacz.get("working_copy") or [])
    lines.append(f"Cookies og login-oplysninger er fjernet fra den kopi, der blev afspillet ({removed} felter); "
                 "den originale fil er gemt uændret.")
    if main.get("recorded_at"):
        lines.append(f"Optaget (arkivets egen angivelse, ikke kontrolleret): {main['recorded_at']}.")
    lines.append("Ikke kontrolleret: at svarene i arkivet er dem, serverne sendte; arkivet viser, hvad "
                 "optagerens browser modtog.")
    if ver.get("not_covered"):
        lines.append(f"{len(ver['not_covered'])} fil(er) i arkivet står ikke i datapackage.json; de er hverken "
                     "kontrolleret eller brugt.")
    return lines
