"""Domain errors of the ledger. Every message is safe to show to a user."""


class DomainError(Exception):
    """Base of every ledger error; ``str(error)`` is a user-safe message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAmount(DomainError):
    """An amount of money that cannot be accepted."""


class InvalidRequest(DomainError):
    """Arguments that make no sense (missing reason, same team twice, …)."""


class NotFound(DomainError):
    """The entry, hold or account does not exist."""


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
