"""Pictures for the demo's ideas and delivery steps, drawn with Pillow when the demo is loaded (so
no binary file is kept in git): a simple scene per kind — planters outside shops, bulbs along a
path, a pool table, grit bins on a hill street, benches by a pond. The same kind always draws
the same picture (a seeded random), and each is stored like any upload, through
``community.images.store_photo`` (re-encoded, no metadata)."""

from __future__ import annotations

import io
import random
from pathlib import Path

from community import images

WIDTH, HEIGHT = 960, 640
HORIZON = 380
SKY = ((150, 196, 230), (222, 236, 246))
GRASS = (96, 150, 72)
PAVEMENT = (168, 168, 160)
FLOWERS = ((214, 48, 49), (250, 200, 40), (146, 84, 180), (240, 240, 240))


def _sky_and_ground(draw, ground: tuple[int, int, int]) -> None:
    top, bottom = SKY
    for y in range(HORIZON):
        mix = y / HORIZON
        draw.line(
            [(0, y), (WIDTH, y)],
            fill=tuple(round(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True)),
        )
    draw.rectangle([0, HORIZON, WIDTH, HEIGHT], fill=ground)


def _flowers(draw, rng: random.Random, box: tuple[int, int, int, int], count: int) -> None:
    left, top, right, bottom = box
    for _ in range(count):
        x, y, r = rng.randint(left, right), rng.randint(top, bottom), rng.randint(5, 9)
        draw.line([(x, y), (x, y + 3 * r)], fill=(40, 110, 40), width=3)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=rng.choice(FLOWERS))


def _planters(draw, rng: random.Random) -> None:
    _sky_and_ground(draw, PAVEMENT)
    for n, colour in enumerate(((176, 60, 50), (60, 90, 150), (70, 130, 90), (200, 150, 60))):
        left = 20 + n * 235
        draw.rectangle([left, 120, left + 220, HORIZON], fill=colour)  # a shop front
        draw.rectangle([left + 30, 200, left + 190, HORIZON - 10], fill=(200, 220, 235))  # its window
    for left in (60, 380, 700):
        draw.rectangle([left, 470, left + 200, 590], fill=(120, 80, 45))  # a wooden planter
        _flowers(draw, rng, (left + 15, 420, left + 185, 460), 18)


def _bulbs(draw, rng: random.Random) -> None:
    _sky_and_ground(draw, GRASS)
    draw.polygon(
        [(430, HORIZON), (530, HORIZON), (760, HEIGHT), (200, HEIGHT)], fill=(190, 170, 130)
    )  # the path
    for left, right in ((20, 300), (660, 940)):
        _flowers(draw, rng, (left, HORIZON + 40, right, HEIGHT - 40), 45)


def _youth_club(draw, rng: random.Random) -> None:
    draw.rectangle([0, 0, WIDTH, HEIGHT], fill=(236, 224, 200))  # the hall's wall
    draw.rectangle([0, 470, WIDTH, HEIGHT], fill=(150, 105, 70))  # its floor
    draw.rectangle([180, 300, 780, 520], fill=(110, 70, 40))  # the table
    draw.rectangle([205, 320, 755, 500], fill=(30, 120, 70))  # its cloth
    for _ in range(9):
        x, y = rng.randint(230, 730), rng.randint(340, 480)
        draw.ellipse([x - 11, y - 11, x + 11, y + 11], fill=rng.choice(FLOWERS[:3] + ((20, 20, 20),)))


def _grit_bins(draw, rng: random.Random) -> None:
    _sky_and_ground(draw, GRASS)
    draw.polygon([(0, HEIGHT), (WIDTH, HEIGHT), (WIDTH, 430), (0, 520)], fill=(80, 80, 86))  # the hill street
    for left in (120, 420, 720):
        top = 330 + rng.randint(-10, 10)
        draw.rectangle([left, top, left + 130, top + 110], fill=(240, 190, 20))  # a grit bin
        draw.rectangle([left - 6, top - 14, left + 136, top + 4], fill=(210, 160, 10))  # its lid


def _benches(draw, rng: random.Random) -> None:
    _sky_and_ground(draw, GRASS)
    draw.ellipse([450, HORIZON + 20, 930, HEIGHT - 30], fill=(70, 130, 190))  # the pond
    for left in (20, 235):
        draw.rectangle([left, 430, left + 200, 450], fill=(130, 85, 45))  # the seat
        draw.rectangle([left, 390, left + 200, 405], fill=(130, 85, 45))  # the back
        for leg in (left + 15, left + 175):
            draw.rectangle([leg, 450, leg + 10, 500], fill=(60, 60, 60))
    _flowers(draw, rng, (20, HEIGHT - 60, 280, HEIGHT - 30), 10)


SCENES = {
    "planters": _planters,
    "bulbs": _bulbs,
    "youth_club": _youth_club,
    "grit_bins": _grit_bins,
    "benches": _benches,
}


def picture(kind: str) -> bytes:
    """The JPEG of one kind of scene (the same bytes every time)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT))
    SCENES[kind](ImageDraw.Draw(image), random.Random(kind))  # noqa: S311 - a picture, not a secret
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def store(directory: str | Path, kind: str, *, max_side: int = images.PHOTO_MAX_SIDE) -> tuple[str, str]:
    """Draw and store one picture like an upload: (reference, content type)."""
    return images.store_photo(directory, picture(kind), max_side=max_side)
