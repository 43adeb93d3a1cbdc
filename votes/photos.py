"""Photos of delivery steps and ideas (issue 17): read from the upload, checked, re-encoded without
metadata and stored by community.images under ``<uploads>/photos`` (outside the web root), and
removed again when the change they belong to is refused; and the way back to the form for an
upload over the request limit. The edge of the request, like
spend/receipts.py: the services only ever see (reference, content type)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from flask import current_app, request, url_for
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


# An idea's photo is shown on its page at most 640 px wide (twice that on a sharp phone screen):
# kept smaller than a step's, so the page stays light on an old phone and a slow connection.
IDEA_PHOTO_MAX_SIDE = 1280


def photos_dir() -> Path:
    """``INSTANCE_UPLOADS/photos``, else ``instance/photos`` (never under static)."""
    return Path(current_app.config["INSTANCE_UPLOADS"] or current_app.instance_path) / "photos"


def _read(storage) -> bytes | None:
    if storage is None or not getattr(storage, "filename", ""):
        return None
    return storage.stream.read(images.PHOTO_MAX_BYTES + 1)


def with_photo(session: Session, storage, action: Callable[[tuple[str, str] | None], T], *,
               max_side: int = images.PHOTO_MAX_SIDE) -> T:
    """Store the uploaded photo (if one was chosen), run ``action(photo)`` with it and commit; a
    file that is not a photo is a VotesError on the ``photo`` field (nothing stored), and the
    stored file is removed again if the action or the commit fails."""
    data = _read(storage)
    if data is None:
        result = action(None)
        session.commit()
        return result
    try:
        photo = images.store_photo(photos_dir(), data, max_side=max_side)
    except images.ImageRefused as refused:
        raise VotesError(str(REFUSALS[refused.reason]), field="photo") from None
    try:
        result = action(photo)
        session.commit()
    except BaseException:
        images.discard(photos_dir(), photo[0])
        raise
    return result


# The views whose form takes a photo. A body over MAX_CONTENT_LENGTH is refused by Werkzeug
# before the view (or the CSRF check) can read a field of it, so the form comes back by a GET
# with ``too_large=1`` and the message beside its photo field (as spend does for receipts).
PHOTO_FORMS = ("votes.propose", "votes.edit_idea", "votes.new_step", "votes.edit_step")
TOO_LARGE = "too_large"


def back_to_form_url() -> str | None:
    """Where an over-limit upload to a photo form goes: its form again, saying why (None elsewhere)."""
    if request.endpoint not in PHOTO_FORMS or request.view_args is None:
        return None
    return url_for(request.endpoint, **request.view_args, **{TOO_LARGE: 1})


def refuse_too_large(form) -> None:
    """On the form page an over-limit upload came back to: the size message beside the photo field."""
    if request.method == "GET" and request.args.get(TOO_LARGE) and hasattr(form, "photo"):
        form.photo.errors = [*form.photo.errors, str(REFUSALS["too_big"])]


def discard(ref: str | None) -> None:
    images.discard(photos_dir(), ref)


def path_of(ref: str | None) -> Path | None:
    return images.stored_path(photos_dir(), ref)
