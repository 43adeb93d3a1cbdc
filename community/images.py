"""Photos people upload (receipts in spend/, idea and milestone photos in votes/): judged by their
bytes, decoded and saved again with no metadata, stored under a random name outside the web root
(security.md F2). Moved here from spend/receipts.py so that votes (below spend) can use it too;
each caller words its own refusals (:class:`ImageRefused` carries only the reason).
"""

from __future__ import annotations

import io
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filetype

IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png"}
# Before decoding, the pixel count the file declares is checked against these limits (the
# decompression-bomb guard, lower than Pillow's own Image.MAX_IMAGE_PIXELS, which stays as a
# backstop): a 48 MP phone photo passes. A JPEG with both sides at least MAX_SIDE is decoded by
# libjpeg at 1/2, 1/4 or 1/8 scale (draft), so a 48 MP photo costs 12 MP and is stored at
# 4032 × 3024. A PNG is decoded whole (up to 4 bytes a pixel), so its limit is lower.
MAX_PIXELS = {"image/jpeg": 50_000_000, "image/png": 25_000_000}
MAX_SIDE = 4096
_PILLOW_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG"}
_PLAIN_MODES = {"image/jpeg": {"L", "RGB"}, "image/png": {"1", "L", "LA", "RGB", "RGBA", "I;16"}}
REF = re.compile(r"^[0-9a-f]{32}$")


class ImageRefused(ValueError):
    """A file that is not a photo we keep; ``reason`` is "empty", "too_big", "type",
    "unreadable" or "pixels" (the caller turns it into its own sentence)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sniff(data: bytes, *, allowed, max_bytes: int) -> str:
    """The content type judged by the bytes (never the name), if in ``allowed``; ImageRefused otherwise."""
    if not data:
        raise ImageRefused("empty")
    if len(data) > max_bytes:
        raise ImageRefused("too_big")
    kind = filetype.guess(data[:8192])
    if kind is None or kind.mime not in allowed:
        raise ImageRefused("type")
    return kind.mime


_DECODING = threading.Lock()


@contextmanager
def _strict_decoding() -> Iterator[None]:
    """Pillow's tolerance of truncated files is one process-wide switch, and WeasyPrint turns it
    on when imported (weasyprint/images.py), which would let half an upload through padded with
    grey. A photo must decode whole, so the switch is off while one decodes; the lock stops two
    uploads restoring it under each other."""
    from PIL import ImageFile

    with _DECODING:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before


def clean_image(data: bytes, content_type: str, *, max_side: int = MAX_SIDE) -> bytes:
    """A JPEG or PNG decoded and saved again with Pillow: turned upright by its EXIF orientation,
    shrunk to ``max_side``, and saved with no metadata at all (EXIF with GPS, XMP, ICC, comments,
    text chunks) and nothing after the image, so a polyglot's HTML does not survive.
    ImageRefused ("pixels") for a decompression bomb, ("unreadable") for anything Pillow cannot decode."""
    from PIL import Image, ImageOps  # only an upload decodes an image (start-up, issue 18)

    try:
        with _strict_decoding(), Image.open(io.BytesIO(data), formats=[_PILLOW_FORMAT[content_type]]) as image:
            width, height = image.size  # from the header: nothing decoded yet
            if width * height > MAX_PIXELS[content_type]:
                raise ImageRefused("pixels")
            half = max_side // 2
            image.draft("RGB", (half, half))  # JPEG only: decoded smaller, both sides still ≥ half
            image.load()
            upright = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError as error:
        raise ImageRefused("pixels") from error
    except ImageRefused:
        raise
    except Exception as error:
        # Pillow's decoders raise OSError, SyntaxError, ValueError, struct.error, EOFError… for
        # truncated or crafted files: each is a refusal with a message, never a 500.
        raise ImageRefused("unreadable") from error
    if upright.mode not in _PLAIN_MODES[content_type]:
        has_alpha = "A" in upright.mode or "transparency" in upright.info
        upright = upright.convert("RGBA" if has_alpha and content_type == "image/png" else "RGB")
    upright.thumbnail((max_side, max_side))
    upright.info = {}  # Pillow's savers fall back to info for comments, ICC and transparency
    out = io.BytesIO()
    if content_type == "image/jpeg":
        upright.save(out, format="JPEG", quality=85)
    else:
        upright.save(out, format="PNG", optimize=True)
    return out.getvalue()


def is_photo(content_type: str) -> bool:
    return content_type in _PILLOW_FORMAT


def store(directory: str | Path, data: bytes) -> str:
    """Write ``data`` under a new random name in ``directory`` (owner-only); returns the reference."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    ref = secrets.token_hex(16)
    path = folder / ref
    with path.open("xb") as handle:
        handle.write(data)
    path.chmod(0o600)
    return ref


def stored_path(directory: str | Path, ref: str | None) -> Path | None:
    """The stored file of a reference (None for anything that is not one)."""
    if not ref or not REF.fullmatch(ref):
        return None
    path = Path(directory) / ref
    return path if path.is_file() else None


def discard(directory: str | Path, ref: str | None) -> None:
    path = stored_path(directory, ref)
    if path is not None:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- photos of ideas and milestones

PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_SIDE = 2048  # shown on a page, not read like a receipt


def store_photo(directory: str | Path, data: bytes, *, max_side: int = PHOTO_MAX_SIDE) -> tuple[str, str]:
    """Check, re-encode (at most ``max_side`` on the longer side) and store a photo (JPEG or PNG
    only); returns (reference, content type). ImageRefused for anything else, nothing written."""
    content_type = sniff(data, allowed=IMAGE_TYPES, max_bytes=PHOTO_MAX_BYTES)
    cleaned = clean_image(data, content_type, max_side=max_side)
    return store(directory, cleaned), content_type
