"""Receipts: judged by their bytes, photos decoded and saved again with no metadata, stored under a
random name outside the web root (security.md F2). Quick spend's payment records the reference."""

from pathlib import Path

from community import images
from community.i18n import lazy_gettext
from community.images import ImageRefused
from spend.errors import InvalidReceipt

RECEIPT_MAX_BYTES = 10 * 1024 * 1024
RECEIPT_TYPES = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}
# Photos are decoded and saved again by community/images.py (security.md F2), with its
# decompression-bomb guard (images.MAX_PIXELS).
RECEIPT_MAX_PIXELS = images.MAX_PIXELS
RECEIPT_MAX_SIDE = images.MAX_SIDE  # longer side kept; a receipt is readable far below this, a 12 MP photo fits
RECEIPT_REF = images.REF

_UNREADABLE = lazy_gettext("The photo could not be opened: it may be damaged or only partly uploaded. "
                           "Take the photo again, or upload a PDF.")
_TOO_MANY_PIXELS = lazy_gettext("The photo is too large in pixels. Take it at a lower resolution, or upload a PDF.")
_MESSAGES = {
    "empty": lazy_gettext("The receipt file is empty. Choose the photo or PDF again."),
    "too_big": lazy_gettext("The receipt must be 10 MB or smaller."),
    "type": lazy_gettext("The receipt must be a photo (JPEG or PNG) or a PDF."),
    "unreadable": _UNREADABLE,
    "pixels": _TOO_MANY_PIXELS,
}


def _refused(error: ImageRefused) -> InvalidReceipt:
    return InvalidReceipt(str(_MESSAGES[error.reason]), field="receipt")


def sniff_receipt(data: bytes) -> str:
    """The receipt's content type judged by its bytes (never its name); InvalidReceipt otherwise."""
    try:
        return images.sniff(data, allowed=RECEIPT_TYPES, max_bytes=RECEIPT_MAX_BYTES)
    except ImageRefused as error:
        raise _refused(error) from None


def clean_image(data: bytes, content_type: str) -> bytes:
    """A JPEG or PNG decoded and saved again with no metadata (community.images.clean_image);
    InvalidReceipt for a decompression bomb or anything Pillow cannot decode."""
    try:
        return images.clean_image(data, content_type, max_side=RECEIPT_MAX_SIDE)
    except ImageRefused as error:
        raise _refused(error) from error


def store_receipt(directory: str | Path, data: bytes) -> tuple[str, str]:
    """Check and store a receipt under a random name; returns (reference, content type). Photos
    are stored re-encoded (:func:`clean_image`); PDFs as opaque bytes, never parsed or rendered."""
    content_type = sniff_receipt(data)
    if images.is_photo(content_type):
        data = clean_image(data, content_type)
    return images.store(directory, data), content_type


def receipt_path(directory: str | Path, ref: str | None) -> Path | None:
    """The stored file of a receipt reference (None for anything that is not one)."""
    return images.stored_path(directory, ref)


def discard_receipt(directory: str | Path, ref: str) -> None:
    """Remove a stored receipt whose payment was refused (nothing else refers to it)."""
    images.discard(directory, ref)
