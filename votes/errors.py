"""Refusals of the votes domain; every message is safe to show."""

from community.errors import DomainError


class VotesError(DomainError):
    """A refusal of the votes domain; the message is safe to show."""


class NotEligible(VotesError):
    """The person may not vote in (or propose for, or support in) this place."""


class RoundClosed(VotesError):
    """The round is closed (or not open yet)."""


class BrokenRule(VotesError):
    """A ballot that breaks the round's rules (``ballot_rule_broken``). Online it is refused
    with the message; on paper it is recorded as spoilt with ``reason`` (item 6 of issue 20)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class TooManyIdeas(BrokenRule):
    """An approval-up-to-k ballot with more than k ideas."""


class NoIdeas(BrokenRule):
    """A ballot with no idea chosen."""


class OverBudget(BrokenRule):
    """A knapsack ballot whose ideas cost more than the round's budget."""
