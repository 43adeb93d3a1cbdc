"""What every view uses, once: commit one service call, or show its refusal beside the field it
concerns (issue 15).

A service raises a ``community.errors.DomainError`` (every domain's errors derive from it) with
an optional ``field``; the view rolls back what the service flushed and puts the message beside
that field, or above the form when it belongs to none.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import flash
from sqlmodel import Session
from wtforms import Field

from community.db import get_session
from community.errors import DomainError, NotFound


def show_error(form, error: DomainError, *, field: str | Field | None = None,
               field_for: dict[type, str] | None = None, message: str | None = None) -> None:
    """Roll back and show ``error`` on ``form``: beside ``error.field`` if the service named one,
    else beside ``field``, else beside the first ``field_for`` entry whose error class matches,
    else above the form. ``message`` replaces the error's own text when the view knows better."""
    get_session().rollback()
    text = message or error.message
    target = error.field or field
    if target is None and field_for:
        target = next((name for kind, name in field_for.items() if isinstance(error, kind)), None)
    if isinstance(target, str):
        target = getattr(form, target, None)
    if target is not None:
        target.errors = [*target.errors, text]
    else:
        form.form_errors.append(text)


@dataclass(frozen=True)
class Attempt:
    """What :func:`attempt` did: ``ok`` when the action ran and was committed, with its ``value``."""

    ok: bool
    value: Any = None
    error: DomainError | None = None  # the refusal shown on the form, if there was one


def attempt(form, action: Callable[[Session], Any], *, field_for: dict[type, str] | None = None,
            message: str | None = None, validate: bool = True) -> Attempt:
    """The one commit-or-show-why step of a form view: validate ``form`` (unless ``validate`` is
    False), run ``action(session)`` (one service call), commit. A refusal is rolled back and shown
    beside its field (:func:`show_error`); a ``NotFound`` is re-raised, so it answers 404, unless
    ``field_for`` names a field for it (an unknown choice in a select, say)."""
    if validate and not form.validate_on_submit():
        return Attempt(False)
    session = get_session()
    try:
        value = action(session)
        session.commit()
    except DomainError as error:
        if isinstance(error, NotFound) and NotFound not in (field_for or {}):
            session.rollback()
            raise
        show_error(form, error, field_for=field_for, message=message)
        return Attempt(False, error=error)
    return Attempt(True, value)


def act(action: Callable[[Session], Any], *, done: str | Callable[[Any], str]) -> bool:
    """A button's action (no fields to show an error beside): run it and commit, then flash
    ``done`` (or ``done(value)`` of what the action returned), or roll back and flash the
    refusal. ``NotFound`` answers 404."""
    session = get_session()
    try:
        value = action(session)
        session.commit()
    except NotFound:
        session.rollback()
        raise
    except DomainError as error:
        session.rollback()
        flash(error.message, "error")
        return False
    flash(done(value) if callable(done) else done, "success")
    return True
