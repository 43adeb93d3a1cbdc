"""Domain errors of the ledger. Every message is safe to show to a user.

Every domain's errors derive from the one ``community.errors.DomainError`` (message, optional
``field``); ``NotFound`` is the same class everywhere and answers 404 once, in community/security.py.
"""

from community.errors import DomainError, NotFound

__all__ = ["DomainError", "NotFound"]  # re-exported: ledger callers catch them from here


class InvalidAmount(DomainError):
    """An amount of money that cannot be accepted."""


class InvalidRequest(DomainError):
    """Arguments that make no sense (missing reason, same team twice, …)."""


class InsufficientFunds(DomainError):
    """The team's available balance does not cover the amount."""


class IdempotencyConflict(DomainError):
    """The idempotency key was already used for a different request."""


class PeriodClosed(DomainError):
    """The date falls in a closed month."""


class ReversalRefused(DomainError):
    """The entry cannot be reversed (a reversal, already reversed, another team's)."""


class HoldNotOpen(DomainError):
    """The hold was already settled or voided."""
