"""The web layer: Flask pages and the `vaern` CLI. Thin: parse, check access, call tracker, render."""
