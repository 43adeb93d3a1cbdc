"""Receipts: judged by their bytes, photos decoded and saved again with no metadata, stored under a
random name outside the web root (security.md F2). Quick spend's payment records the reference."""

import io
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filetype

from spend.errors import InvalidReceipt

RECEIPT_MAX_BYTES = 10 * 1024 * 1024
RECEIPT_TYPES = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}
# Photos are decoded and saved again (security.md F2). Before decoding, the pixel count the file
# declares is checked against these limits (the decompression-bomb guard, lower than Pillow's own
# Image.MAX_IMAGE_PIXELS, which stays as a backstop): a 48 MP phone photo passes. A JPEG with
# both sides at least RECEIPT_MAX_SIDE is decoded by libjpeg at 1/2, 1/4 or 1/8 scale (draft), so
# a 48 MP photo costs 12 MP and is stored at 4032 × 3024. A PNG is decoded whole (up to 4 bytes a
# pixel), and PNG receipts are screenshots, so its limit is lower.
RECEIPT_MAX_PIXELS = {"image/jpeg": 50_000_000, "image/png": 25_000_000}
RECEIPT_MAX_SIDE = 4096  # longer side kept; a receipt is readable far below this, a 12 MP photo fits
_PILLOW_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG"}
_PLAIN_MODES = {"image/jpeg": {"L", "RGB"}, "image/png": {"1", "L", "LA", "RGB", "RGBA", "I;16"}}
RECEIPT_REF = re.compile(r"^[0-9a-f]{32}$")


def sniff_receipt(data: bytes) -> str:
    """The receipt's content type judged by its bytes (never its name); InvalidReceipt otherwise."""
    if not data:
        raise InvalidReceipt("The receipt file is empty. Choose the photo or PDF again.", field="receipt")
    if len(data) > RECEIPT_MAX_BYTES:
        raise InvalidReceipt("The receipt must be 10 MB or smaller.", field="receipt")
    kind = filetype.guess(data[:8192])
    if kind is None or kind.mime not in RECEIPT_TYPES:
        raise InvalidReceipt("The receipt must be a photo (JPEG or PNG) or a PDF.", field="receipt")
    return kind.mime


_UNREADABLE = "The photo could not be opened: it may be damaged or only partly uploaded. Take the photo again, or upload a PDF."
_TOO_MANY_PIXELS = "The photo is too large in pixels. Take it at a lower resolution, or upload a PDF."


_DECODING = threading.Lock()


@contextmanager
def _strict_decoding() -> Iterator[None]:
    """Pillow's tolerance of truncated files is one process-wide switch, and WeasyPrint turns it
    on when imported (weasyprint/images.py), which would let half an upload through padded with
    grey. A receipt must decode whole, so the switch is off while one decodes; the lock stops two
    uploads restoring it under each other. A statement drawn meanwhile is not affected: its
    images are our own static files."""
    from PIL import ImageFile

    with _DECODING:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before


def clean_image(data: bytes, content_type: str) -> bytes:
    """A JPEG or PNG decoded and saved again with Pillow: turned upright by its EXIF orientation,
    shrunk to ``RECEIPT_MAX_SIDE``, and saved with no metadata at all (EXIF with GPS, XMP, ICC,
    comments, text chunks) and nothing after the image, so a polyglot's HTML does not survive.
    InvalidReceipt for a decompression bomb or anything Pillow cannot decode."""
    from PIL import Image, ImageOps  # only an upload decodes an image (start-up, issue 18)

    try:
        with _strict_decoding(), Image.open(io.BytesIO(data), formats=[_PILLOW_FORMAT[content_type]]) as image:
            width, height = image.size  # from the header: nothing decoded yet
            if width * height > RECEIPT_MAX_PIXELS[content_type]:
                raise InvalidReceipt(_TOO_MANY_PIXELS, field="receipt")
            half = RECEIPT_MAX_SIDE // 2
            image.draft("RGB", (half, half))  # JPEG only: decoded smaller, both sides still ≥ half
            image.load()
            upright = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError as error:
        raise InvalidReceipt(_TOO_MANY_PIXELS, field="receipt") from error
    except InvalidReceipt:
        raise
    except Exception as error:
        # Pillow's decoders raise OSError, SyntaxError, ValueError, struct.error, EOFError… for
        # truncated or crafted files: each is a refusal with a message, never a 500.
        raise InvalidReceipt(_UNREADABLE, field="receipt") from error
    if upright.mode not in _PLAIN_MODES[content_type]:
        has_alpha = "A" in upright.mode or "transparency" in upright.info
        upright = upright.convert("RGBA" if has_alpha and content_type == "image/png" else "RGB")
    upright.thumbnail((RECEIPT_MAX_SIDE, RECEIPT_MAX_SIDE))
    upright.info = {}  # Pillow's savers fall back to info for comments, ICC and transparency
    out = io.BytesIO()
    if content_type == "image/jpeg":
        upright.save(out, format="JPEG", quality=85)
    else:
        upright.save(out, format="PNG", optimize=True)
    return out.getvalue()


def store_receipt(directory: str | Path, data: bytes) -> tuple[str, str]:
    """Check and store a receipt under a random name; returns (reference, content type). Photos
    are stored re-encoded (:func:`clean_image`); PDFs as opaque bytes, never parsed or rendered."""
    content_type = sniff_receipt(data)
    if content_type in _PILLOW_FORMAT:
        data = clean_image(data, content_type)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    ref = secrets.token_hex(16)
    path = folder / ref
    with path.open("xb") as handle:
        handle.write(data)
    path.chmod(0o600)
    return ref, content_type


def receipt_path(directory: str | Path, ref: str | None) -> Path | None:
    """The stored file of a receipt reference (None for anything that is not one)."""
    if not ref or not RECEIPT_REF.fullmatch(ref):
        return None
    path = Path(directory) / ref
    return path if path.is_file() else None


def discard_receipt(directory: str | Path, ref: str) -> None:
    """Remove a stored receipt whose payment was refused (nothing else refers to it)."""
    path = receipt_path(directory, ref)
    if path is not None:
        path.unlink(missing_ok=True)
