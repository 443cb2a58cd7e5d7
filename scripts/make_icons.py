"""Draw Værn's app icons (PNG) for the web app manifest and iPhone's home screen, with Pillow.

Run once after changing the look: ``python scripts/make_icons.py``; the PNGs in webui/static/icons/ are
committed. A shield in the accent colour with a white "V"; the maskable icon keeps it inside the safe zone.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "webui" / "static" / "icons"
ACCENT, WHITE = (11, 92, 140), (255, 255, 255)


def draw(size: int, *, maskable: bool) -> Image.Image:
    big = size * 4  # drawn large, scaled down: smooth edges
    img = Image.new("RGB" if maskable else "RGBA", (big, big), ACCENT if maskable else (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    if not maskable:
        d.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=ACCENT)
    inset = big * (0.24 if maskable else 0.16)  # the maskable safe zone is the centre circle of 80 %
    w = big - 2 * inset
    top, left = inset, inset
    shield = [(left, top + w * 0.12), (left + w / 2, top), (left + w, top + w * 0.12), (left + w, top + w * 0.5),
              (left + w / 2, top + w), (left, top + w * 0.5)]
    d.polygon(shield, fill=WHITE)
    stroke = w * 0.11
    v = [(left + w * 0.27, top + w * 0.27), (left + w / 2, top + w * 0.72), (left + w * 0.73, top + w * 0.27)]
    d.line(v, fill=ACCENT, width=int(stroke), joint="curve")
    return img.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        draw(size, maskable=False).save(OUT / f"icon-{size}.png", optimize=True)
    draw(512, maskable=True).save(OUT / "icon-maskable-512.png", optimize=True)
    draw(180, maskable=True).save(OUT / "apple-touch-icon.png", optimize=True)  # iOS rounds the corners itself


if __name__ == "__main__":
    main()
