"""Danish for the labels the lead may add to webui/hr.py (ACTION_LABELS / OBJECT_TYPE_LABELS) for `vaern verify`'s event."""
DA = {
    "Integrity check run": "Integritetskontrol kørt",
    "Integrity check": "Integritetskontrol",
}
