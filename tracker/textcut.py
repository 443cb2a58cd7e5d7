"""Cutting text for excerpts: at a word boundary, marked with "…", never mid-word."""
from __future__ import annotations


def excerpt(text: str | None, limit: int) -> str:
    """``text`` with its whitespace as is, cut to at most ``limit`` characters at the last word boundary,
    ending in "…" when something was left out. A single word longer than the limit is cut hard."""
    text = (text or "").strip()
    if len(text) <= limit:
        return text
    cut = text[: max(1, limit - 1)]
    if not text[len(cut)].isspace():  # the cut fell inside a word: back up to the space before it
        space = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
        if space > limit // 3:
            cut = cut[:space]
    return cut.rstrip(" \t\n,.;:-–—") + "…"
