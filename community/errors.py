"""Domain errors of the community domain: messages are safe to show to users."""


class DomainError(Exception):
    """Base of every domain error; ``field`` names the form field it belongs to, if any."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """The object does not exist, or the caller may not know that it does."""


class Forbidden(DomainError):
    """The caller may not do this."""


class EmailTaken(DomainError):
    pass


class InvalidCredentials(DomainError):
    pass


class InvalidCode(DomainError):
    pass


class InvalidPostcode(DomainError):
    pass


class InvitationInvalid(DomainError):
    pass


class ResetLinkInvalid(DomainError):
    """A password-reset link that cannot be used; ``reason`` is "unknown", "used" or "expired"."""

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.reason = reason


class ConfirmLinkInvalid(DomainError):
    """An email-confirmation link that cannot be used; ``reason`` is "unknown", "used" or "expired"."""

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.reason = reason


class EmailNotConfirmed(Exception):
    """The person has not confirmed their email address yet, and this needs it (voting,
    supporting, proposing, pledging, signing). Not a DomainError on purpose: it is not a refusal
    to show beside a form field, so views that catch DomainError let it through to the one
    app-wide "confirm first" page (community/views.py, 403)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class VotingCodeInvalid(DomainError):
    """A voting code that cannot be used; ``reason`` is "unknown", "used" or "expired"."""

    def __init__(self, message: str, *, reason: str):
        super().__init__(message, field="code")
        self.reason = reason


class UnsubscribeLinkInvalid(DomainError):
    """An unsubscribe link that was changed, forged, names no account, or is too old
    (``expired``: the 410 page, else the 400 one)."""

    def __init__(self, message: str, *, expired: bool = False):
        super().__init__(message)
        self.expired = expired
