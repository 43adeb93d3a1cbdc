"""The ballot's plain-English tally explanation, in the reader's language (issue 16).

``close_round`` stores each idea's reason in English (``RoundIdea.explanation``: the record of
the count, also used by the CSV and the audit). Shown on a page it goes through
:func:`in_language` (the ``explanation`` Jinja filter): each sentence the app's two rules write
(greedy by votes, and Method of Equal Shares completed by greedy) is read back into its parts
and written again through gettext, with the vote counts' plural forms; a sentence it does not
know (a future rule) is shown as stored.

An idea's updates that the app writes itself ("Funded in …", "Feasible; …") are stored with their
kind and parameters (``IdeaUpdate.kind``/``params``, beside the English ``text``) and written in
the reader's language by :func:`update_text` (the ``update_text`` filter, and the emails).
"""

from __future__ import annotations

import re

from flask import Flask

from community.formatting import gbp
from community.i18n import _, ngettext

_MONEY = r"£[\d,]+(?:\.\d\d)?"
_VOTES = r"(?P<votes>[\d,]+) votes?"


def _votes(text: str) -> str:
    return ngettext("%(count)s vote", "%(count)s votes", int(text.replace(",", "")), count=text)


def _funded(m) -> str:
    return _("funded: %(votes)s, fitted in the %(left)s left (ranked most votes first)",
             votes=_votes(m["votes"]), left=m["left"])


def _completed(m) -> str:
    return _("funded from the money Equal Shares left over: %(votes)s, fitted in the %(left)s left "
             "(ranked most votes first)", votes=_votes(m["votes"]), left=m["left"])


def _not_fitted(m) -> str:
    return _("not funded: %(votes)s, cost %(cost)s but only %(left)s was left (ranked most votes first)",
             votes=_votes(m["votes"]), cost=m["cost"], left=m["left"])


def _step(m) -> str:
    if m["equal"]:
        start = _("each voter started with %(share)s: the equal share %(equal)s plus %(plus)s, the first "
                  "increase that completes the result", share=m["share"], equal=m["equal"], plus=m["plus"])
    else:
        start = _("each voter started with %(share)s", share=m["share"])
    if m["poor"]:
        how = ngettext("%(payers)s paid %(each)s each and %(count)s who had less left paid all they had "
                       "(%(together)s together)",
                       "%(payers)s paid %(each)s each and %(count)s who had less left paid all they had "
                       "(%(together)s together)",
                       int(m["poor"].replace(",", "")), payers=m["payers"], each=m["each"], count=m["poor"],
                       together=m["together"])
    else:
        how = _("they paid %(each)s each", each=m["each2"])
    return _("funded at step %(step)s of Equal Shares: %(votes)s, cost %(cost)s shared by its supporters "
             "(%(start)s): %(how)s", step=m["step"], votes=_votes(m["votes"]), cost=m["cost"], start=start,
             how=how)


def _no_voter(m) -> str:
    return _("not funded: no voter supports it (cost %(cost)s)", cost=m["cost"])


def _dropped(m) -> str:
    return _("not funded: %(votes)s, but even all their equal shares (%(left)s together) cannot pay its "
             "cost of %(cost)s", votes=_votes(m["votes"]), left=m["left"], cost=m["cost"])


_SENTENCES = [
    (re.compile(rf"funded: {_VOTES}, fitted in the (?P<left>{_MONEY}) left \(ranked most votes first\)"), _funded),
    (re.compile(rf"funded from the money Equal Shares left over: {_VOTES}, fitted in the (?P<left>{_MONEY}) "
                r"left \(ranked most votes first\)"), _completed),
    (re.compile(rf"not funded: {_VOTES}, cost (?P<cost>{_MONEY}) but only (?P<left>{_MONEY}) was left "
                r"\(ranked most votes first\)"), _not_fitted),
    (re.compile(rf"funded at step (?P<step>\d+) of Equal Shares: {_VOTES}, cost (?P<cost>{_MONEY}) shared by "
                rf"its supporters \(each voter started with (?P<share>{_MONEY})(?:: the equal share "
                rf"(?P<equal>{_MONEY}) plus (?P<plus>{_MONEY}), the first increase that completes the result)?\): "
                rf"(?:(?P<payers>[\d,]+) paid (?P<each>{_MONEY}) each and (?P<poor>[\d,]+) who had less left "
                rf"paid all they had \((?P<together>{_MONEY}) together\)|they paid (?P<each2>{_MONEY}) each)"), _step),
    (re.compile(rf"not funded: no voter supports it \(cost (?P<cost>{_MONEY})\)"), _no_voter),
    (re.compile(rf"not funded: {_VOTES}, but even all their equal shares \((?P<left>{_MONEY}) together\) "
                rf"cannot pay its cost of (?P<cost>{_MONEY})"), _dropped),
]


def in_language(text: str | None) -> str:
    """A stored English reason in the active language (unchanged when it is not one we know)."""
    if not text:
        return ""
    for pattern, write in _SENTENCES:
        match = pattern.fullmatch(text)
        if match:
            return write(match)
    return text


def update_text(update) -> str:
    """An idea's update (``IdeaUpdate``) in the active language: one the app wrote itself ("funded",
    "feasible") is written again from its kind and parameters; a person's own words, and rows
    stored before updates had a kind, are shown as written."""
    params = update.params or {}
    try:
        if update.kind == "funded":
            return _("Funded in %(round)s: %(explanation)s", round=params["round"],
                     explanation=in_language(params["explanation"]))
        if update.kind == "feasible":
            return _("Feasible; the team estimates it costs %(cost)s.", cost=gbp(params["cost_pence"]))
    except (KeyError, TypeError):  # parameters that do not fit: the English record is still right
        pass
    return update.text


def init_app(app: Flask) -> None:
    app.add_template_filter(in_language, "explanation")
    app.add_template_filter(update_text, "update_text")
