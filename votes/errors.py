"""Refusals of the votes domain; every message is safe to show."""

from community.errors import DomainError


class VotesError(DomainError):
    """A refusal of the votes domain; the message is safe to show."""


class NotEligible(VotesError):
    """The person may not vote in (or propose for, or support in) this place."""


class RoundClosed(VotesError):
    """The round is closed (or not open yet)."""


class OverBudget(VotesError):
    """A knapsack ballot whose ideas cost more than the round's budget."""
