"""Refusals of quick spend; every message is safe to show."""

from community.errors import DomainError


class SpendError(DomainError):
    """A refused quick-spend action; ``field`` names the form field it belongs to, if any."""

class NotAllowed(SpendError):
    """This person may not do this (own request, finance, not in the team)."""


class WrongState(SpendError):
    """The request is no longer in a state that allows this (already approved, paid, …)."""


class OverLimit(SpendError):
    """Above what this person (or anyone in the team) may approve: it needs a resident vote."""

    def __init__(self, message: str, *, needs_vote: bool, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.needs_vote = needs_vote


class NeedsFreshSignIn(SpendError):
    """Confirm your identity (password and code) before approving this much."""


class InvalidReceipt(SpendError):
    """The receipt file is empty, too big, not a JPEG, PNG or PDF, or a photo that does not open."""
