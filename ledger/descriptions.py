"""The descriptions the app itself writes into the ledger ("Pledge PLG-0007 received", "Virement
from A to B", "Reversal of L000012: …"): stored in English, as the hash-chained record, the
statements and the CSV files keep them, and shown on the team's public ledger in the reader's
language (community/sentences.py). Every domain that writes one writes it with
``DESCRIPTIONS.english(kind, …)``, so the sentence written and the sentence recognised are one;
a description a person typed (a spend's purpose, an allocation's note) is shown as written."""

from community.i18n import _
from community.sentences import Sentences

DESCRIPTIONS = Sentences(lambda: {
    "allocation": _("Budget allocation"),
    "virement": _("Virement from %(from_team)s to %(to_team)s"),
    "reversal": _("Reversal of %(reference)s: %(original)s"),
    "pledge_received": _("Pledge %(reference)s received"),
    "gift_received": _("Gift beyond pledge %(reference)s received"),
    "round_hold": _("Voting round: %(title)s"),
    "funded_idea": _("Funded idea: %(title)s"),
}, nested=("original",))


def description_text(description: str | None, language: str | None = None) -> str:
    """A stored description in the active language, or ``language`` (the ``ledger_description``
    filter gives the page's)."""
    return DESCRIPTIONS.in_language(description, language)
