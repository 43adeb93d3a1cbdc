"""Refusals of the pledges domain; every message is safe to show."""

from community.errors import DomainError


class PledgeError(DomainError):
    """A refused pledge request; ``field`` names the form field it concerns, if any."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, field=field)


class AlreadySigned(PledgeError):
    """The person has already signed this community pledge."""


class OverFulfilment(PledgeError):
    """More money received than is still promised, without saying to record a gift."""
