"""The reasons the app itself writes into a pledge's history (``pledge_event.reason``, append-only)
and its status (``pledge.status_reason``): stored in English, shown in the reader's language
(community/sentences.py); a person's own reason for withdrawing is shown as they wrote it."""

from community.i18n import _
from community.sentences import Sentences

REASONS = Sentences(lambda: {
    "on_behalf": _("Recorded by %(name)s on their behalf"),
    "separate_gift": _("Received beyond pledge %(reference)s, recorded as a separate gift"),
    "lapsed": _("Its date, %(date)s, passed before it was fulfilled."),
    "reminded": _("A reminder was emailed"),
    "account_deleted": _("The pledger deleted their account."),
    # Not a reason: the description of the gift pledge made of money received beyond a pledge.
    "extra_gift": _("Extra gift beyond pledge %(reference)s: %(description)s"),
}, dates=("date",))


def reason_text(reason: str | None) -> str:
    """A stored reason in the active language (the ``pledge_reason`` filter)."""
    return REASONS.in_language(reason)


def action_names() -> dict[str, str]:
    """A history line's action in the active language (``pledge_event.action``)."""
    return {"made": _("Made"), "partly_fulfilled": _("Partly fulfilled"), "fulfilled": _("Fulfilled"),
            "withdrawn": _("Withdrawn"), "lapsed": _("Lapsed"), "reminded": _("Reminded")}
