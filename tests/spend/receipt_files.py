"""Receipt files made for the tests (security.md F2): phone photos with metadata, polyglots,
decompression bombs and broken images, generated here rather than kept as binary fixtures."""

import functools
import io
import struct
import zlib

from PIL import Image, ImageOps
from PIL.PngImagePlugin import PngInfo

SCRIPT = b"<html><body><script>alert('receipt')</script></body></html>"
RED, BLUE = (255, 0, 0), (0, 0, 255)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def phone_photo() -> bytes:
    """A 60×40 JPEG as a phone writes it: left half red, right half blue, stored on its side
    with EXIF Orientation 6 (turn 90° clockwise to view), GPS coordinates, a camera model and a
    comment holding a script."""
    image = Image.new("RGB", (60, 40), BLUE)
    image.paste(RED, (0, 0, 30, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x0110] = "Pixel 9"  # Model
    exif[0x8825] = {1: "N", 2: (53.0, 13.0, 30.0), 3: "W", 4: (1.0, 17.0, 5.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"<script>alert(1)</script>", quality=95)
    return out.getvalue()


def png_with_text() -> bytes:
    """A PNG screenshot with text chunks (tEXt and iTXt, one holding a script) and EXIF."""
    info = PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    info.add_itxt("Author", "Asha Patel, 12 Station Road", lang="en")
    exif = Image.Exif()
    exif[0x0110] = "Pixel 9"
    out = io.BytesIO()
    Image.new("RGB", (20, 10), (200, 200, 200)).save(out, format="PNG", pnginfo=info, exif=exif)
    return out.getvalue()


def png_html_polyglot() -> bytes:
    """A valid PNG with an HTML page after IEND: an image viewer shows the image, a browser that
    sniffs sees the page."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 255, 255)).save(out, format="PNG")
    return out.getvalue() + SCRIPT


def jpeg_html_polyglot() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 255, 255)).save(out, format="JPEG")
    return out.getvalue() + SCRIPT


@functools.cache
def png_bomb(width: int = 8_000, height: int = 8_000) -> bytes:
    """A real decompression bomb: a PNG of a few hundred KB that decodes to width × height RGB
    pixels (8000 × 8000 = 64 MP, about 190 MB; under Pillow's own warning threshold of 89 MP)."""
    row = b"\x00" + b"\x00" * (3 * width)
    squeeze = zlib.compressobj(9)
    data = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data)
            + _png_chunk(b"IEND", b""))


def png_huge_header() -> bytes:
    """A tiny PNG whose header claims 100000 × 100000 pixels (Pillow's own guard refuses it)."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))


def truncated_jpeg() -> bytes:
    """The first half of a real photo, as a failed upload leaves it."""
    out = io.BytesIO()
    Image.effect_noise((200, 200), 64).convert("RGB").save(out, format="JPEG")
    data = out.getvalue()
    return data[: len(data) // 2]


def fake_png_polyglot() -> bytes:
    """The PNG signature and then HTML: sniffs as PNG, is no image."""
    return b"\x89PNG\r\n\x1a\n" + SCRIPT


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_clean(data: bytes, image_format: str) -> Image.Image:
    """A stored image: decodes as the format, carries no EXIF, text, ICC, comment or script."""
    assert b"<script" not in data.lower() and b"<html" not in data.lower()
    image = open_image(data)
    assert image.format == image_format
    assert dict(image.getexif()) == {}
    assert ImageOps.exif_transpose(image).size == image.size  # nothing left to turn
    assert "exif" not in image.info and "icc_profile" not in image.info and "comment" not in image.info
    assert getattr(image, "text", {}) == {}
    return image
