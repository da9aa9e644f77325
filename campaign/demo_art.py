"""The demo campaigns' pictures, drawn for the project with Pillow (CC0, see README).

``python -m campaign.demo_art static/demo`` draws them again; the committed WebP files are
what ``flask seed-demo`` uses, so the demo does not depend on this drawing staying the same.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = (1600, 900)


def _sky(top: str, bottom: str) -> Image.Image:
    image = Image.new("RGB", SIZE, top)
    draw = ImageDraw.Draw(image)
    t = Image.new("RGB", (1, 1), top).getpixel((0, 0))
    b = Image.new("RGB", (1, 1), bottom).getpixel((0, 0))
    for y in range(SIZE[1]):
        f = y / SIZE[1]
        draw.line([(0, y), (SIZE[0], y)], fill=tuple(int(t[i] + (b[i] - t[i]) * f) for i in range(3)))
    return image


def coffee() -> Image.Image:
    """Green hills of coffee bushes at sunrise, red cherries, a farmer's basket."""
    image = _sky("#f6c453", "#fbe3c0")
    draw = ImageDraw.Draw(image)
    draw.ellipse((1150, 120, 1390, 360), fill="#fff4d6")
    for n, (colour, base) in enumerate((("#5d8f4e", 520), ("#3f7a3f", 620), ("#2b5e33", 730))):
        points = [(0, SIZE[1])]
        for x in range(0, SIZE[0] + 100, 100):
            points.append((x, base - 60 * ((x // 100 + n) % 3 == 0) - 30 * ((x // 100) % 2)))
        points.append((SIZE[0], SIZE[1]))
        draw.polygon(points, fill=colour)
        for x in range(40 + n * 30, SIZE[0], 140):
            y = base + 40
            draw.ellipse((x, y, x + 90, y + 70), fill="#1f4a28")
            for dx, dy in ((20, 20), (50, 35), (35, 50)):
                draw.ellipse((x + dx, y + dy, x + dx + 14, y + dy + 14), fill="#c0392b")
    draw.rectangle((200, 700, 420, 860), fill="#8b5a2b")
    draw.arc((200, 620, 420, 780), 180, 360, fill="#5c3a1a", width=14)
    for x in range(215, 410, 30):
        draw.ellipse((x, 680, x + 26, 706), fill="#c0392b")
    return image


def factory() -> Image.Image:
    """A garment factory with open fire exits, and a row of hangers: safe work."""
    image = _sky("#cfe3f2", "#eef4f8")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 760, SIZE[0], SIZE[1]), fill="#8e9a9b")
    draw.rectangle((250, 380, 1350, 760), fill="#b8614a")
    for x in range(250, 1350, 220):
        draw.polygon([(x, 380), (x + 110, 280), (x + 220, 380)], fill="#9a4d3a")
    for x in range(300, 1300, 160):
        draw.rectangle((x, 440, x + 100, 540), fill="#f3e9c6")
    draw.rectangle((720, 600, 880, 760), fill="#2e7d32")
    draw.rectangle((1400, 200, 1450, 760), fill="#6d6d6d")
    draw.line((100, 180, 1500, 180), fill="#444444", width=10)
    for x, colour in zip(
        range(180, 1500, 190),
        ("#0b5d4b", "#f6c453", "#c0392b", "#1f5fa8", "#6a4c93", "#e67e22", "#2b5e33", "#b3261e"),
        strict=False,
    ):
        draw.arc((x - 30, 180, x + 30, 230), 180, 360, fill="#444444", width=6)
        draw.polygon([(x - 70, 230), (x + 70, 230), (x + 90, 360), (x - 90, 360)], fill=colour)
    return image


def repair() -> Image.Image:
    """A mended outdoor jacket: a bright patch, stitches and a needle with thread."""
    image = _sky("#e8f1e4", "#f7f3e8")
    draw = ImageDraw.Draw(image)
    draw.polygon(
        [
            (500, 150),
            (1100, 150),
            (1300, 350),
            (1200, 420),
            (1120, 330),
            (1120, 850),
            (480, 850),
            (480, 330),
            (400, 420),
            (300, 350),
        ],
        fill="#1f5fa8",
    )
    draw.line((800, 160, 800, 850), fill="#123a66", width=8)
    draw.rectangle((900, 520, 1060, 680), fill="#f6c453")
    for x in range(905, 1060, 22):
        draw.line((x, 512, x + 10, 528), fill="#0b5d4b", width=5)
        draw.line((x, 672, x + 10, 688), fill="#0b5d4b", width=5)
    for y in range(525, 680, 22):
        draw.line((892, y, 908, y + 10), fill="#0b5d4b", width=5)
        draw.line((1052, y, 1068, y + 10), fill="#0b5d4b", width=5)
    draw.line((1150, 700, 1450, 400), fill="#9e9e9e", width=10)
    draw.ellipse((1425, 385, 1465, 425), outline="#9e9e9e", width=6)
    draw.line((1445, 405, 1520, 300, 1480, 220), fill="#c0392b", width=5, joint="curve")
    return image


def refill() -> Image.Image:
    """A refill station: dispensers of rice, pasta and oats over glass jars."""
    image = _sky("#fff8e6", "#f3ead2")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 700, SIZE[0], SIZE[1]), fill="#a47148")
    for n, (x, grain) in enumerate(zip((220, 700, 1180), ("#f5f0e1", "#e9b949", "#d4b483"), strict=True)):
        draw.rectangle((x, 120, x + 220, 460), outline="#5a6463", width=10, fill="#ffffff")
        draw.rectangle((x + 10, 220 + n * 40, x + 210, 450), fill=grain)
        draw.rectangle((x + 85, 460, x + 135, 540), fill="#5a6463")
        draw.rectangle((x + 40, 560, x + 180, 700), outline="#7fa7a3", width=8, fill="#eaf4f3")
        draw.rectangle((x + 48, 620 - n * 20, x + 172, 692), fill=grain)
        draw.rectangle((x + 30, 540, x + 190, 568), fill="#0b5d4b")
    return image


PICTURES = {
    "coffee": (
        coffee,
        "Rows of coffee bushes with ripe red cherries on green hills at sunrise, "
        "and a farmer's basket full of cherries",
    ),
    "factory": (
        factory,
        "A brick garment factory with a green fire exit, and a row of colourful shirts on hangers",
    ),
    "repair": (
        repair,
        "A blue outdoor jacket mended with a bright yellow patch, and a needle with red thread",
    ),
    "refill": (
        refill,
        "Three refill dispensers of rice, pasta and oats above glass jars on a wooden counter",
    ),
}


def write_all(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (draw, _alt) in PICTURES.items():
        path = folder / f"{name}.webp"
        draw().save(path, "WEBP", quality=80, method=6)
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "static/demo")):
        print(written_path, written_path.stat().st_size)
