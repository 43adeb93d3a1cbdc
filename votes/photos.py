"""Photos of delivery steps (issue 17): read from the upload, checked, re-encoded without
metadata and stored by community.images under ``<uploads>/photos`` (outside the web root), and
removed again when the change they belong to is refused. The edge of the request, like
spend/receipts.py: the services only ever see (reference, content type)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from flask import current_app
from sqlmodel import Session

from community import images
from community.i18n import lazy_gettext
from votes.errors import VotesError

T = TypeVar("T")

REFUSALS = {
    "empty": lazy_gettext("The photo file is empty. Choose the photo again."),
    "too_big": lazy_gettext("The photo must be 10 MB or smaller."),
    "type": lazy_gettext("The photo must be a JPEG or PNG image."),
    "unreadable": lazy_gettext("The photo could not be opened: it may be damaged or only partly uploaded. "
                               "Choose it again."),
    "pixels": lazy_gettext("The photo is too large in pixels. Choose a smaller one."),
}


def photos_dir() -> Path:
    """``INSTANCE_UPLOADS/photos``, else ``instance/photos`` (never under static)."""
    return Path(current_app.config["INSTANCE_UPLOADS"] or current_app.instance_path) / "photos"


def _read(storage) -> bytes | None:
    if storage is None or not getattr(storage, "filename", ""):
        return None
    return storage.stream.read(images.PHOTO_MAX_BYTES + 1)


def with_photo(session: Session, storage, action: Callable[[tuple[str, str] | None], T]) -> T:
    """Store the uploaded photo (if one was chosen), run ``action(photo)`` with it and commit; a
    file that is not a photo is a VotesError on the ``photo`` field (nothing stored), and the
    stored file is removed again if the action or the commit fails."""
    data = _read(storage)
    if data is None:
        result = action(None)
        session.commit()
        return result
    try:
        photo = images.store_photo(photos_dir(), data)
    except images.ImageRefused as refused:
        raise VotesError(str(REFUSALS[refused.reason]), field="photo") from None
    try:
        result = action(photo)
        session.commit()
    except BaseException:
        images.discard(photos_dir(), photo[0])
        raise
    return result


def discard(ref: str | None) -> None:
    images.discard(photos_dir(), ref)


def path_of(ref: str | None) -> Path | None:
    return images.stored_path(photos_dir(), ref)
