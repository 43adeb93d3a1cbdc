"""Forms of the votes domain: shape only; money, dates (the GOV.UK date input) and times are
parsed at the edge, the rules live in ``votes.services``. The ballot itself is a plain list of checkboxes (see the templates)."""

import datetime as dt
import re
import uuid

from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovFileInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp, ValidationError

from community.dates import DateInputField
from community.db import LONDON
from community.forms import AppForm, WholeNumberField
from community.i18n import gettext, lazy_gettext
from community.numbers import ascii_int, refuse_other_digits
from ledger.forms import MoneyField
from votes.models import IDEA_CATEGORIES

# [0-9], not \d: int("١٨") is 18, so an Arabic-Indic hour was read as 18:00 (issue 14, finding 6).
_TIME = re.compile(r"^([0-9]{1,2})[:.]([0-9]{2})$")


def parse_time(text: str | None) -> dt.time:
    """``HH:MM`` (24-hour clock; ``18.00`` too) → a time; ValueError with a user-safe message."""
    refuse_other_digits(text, gettext("Use the digits 0 to 9, like 18:00."))
    match = _TIME.match((text or "").strip())
    if not match:
        raise ValueError(gettext("Enter the time like 18:00 (24-hour clock)."))
    try:
        return dt.time(int(match.group(1)), int(match.group(2)))
    except ValueError:
        raise ValueError(gettext("Enter a real time, like 18:00.")) from None


def london_instant(day: dt.date, time_text: str | None) -> dt.datetime:
    """A day (the date input) and ``HH:MM`` in Europe/London → aware UTC datetime."""
    return dt.datetime.combine(day, parse_time(time_text), tzinfo=LONDON).astimezone(dt.UTC)


def _time(_form, field) -> None:
    try:
        parse_time(field.data)
    except ValueError as error:
        raise ValidationError(str(error)) from None


# A round's opening and closing moments: the date input's label and message, the time box's label and message.
_WHEN = {
    "opens": (lazy_gettext("Date the round opens"), lazy_gettext("Enter the date the round opens"),
              lazy_gettext("Time it opens (UK time, 24-hour clock, like 18:00)"),
              lazy_gettext("Enter the time the round opens, like 18:00")),
    "closes": (lazy_gettext("Date the round closes"), lazy_gettext("Enter the date the round closes"),
               lazy_gettext("Time it closes (UK time, 24-hour clock, like 18:00)"),
               lazy_gettext("Enter the time the round closes, like 18:00")),
}


def _when(which: str) -> tuple[DateInputField, StringField]:
    """A round's opening or closing moment: a GOV.UK date input and a time box, UK time."""
    date_label, date_required, time_label, time_required = _WHEN[which]
    return (DateInputField(date_label, required=date_required),
            StringField(time_label, widget=GovTextInput(),
                        validators=[DataRequired(time_required), Length(max=5), _time]))


class IdeaForm(AppForm):
    title = StringField(lazy_gettext("Title"), widget=GovTextInput(),
                        validators=[DataRequired(lazy_gettext("Enter a title")), Length(max=120)])
    description = TextAreaField(lazy_gettext("What it is and who it helps"), widget=GovTextArea(),
                                validators=[DataRequired(lazy_gettext("Say what it is and who it helps")), Length(max=4000)])
    estimated_cost = MoneyField(lazy_gettext("Estimated cost in pounds"))
    # Any value reaches the service, which refuses one outside the list beside this field.
    category = SelectField(lazy_gettext("Category (optional)"), widget=GovSelect(), validate_choice=False,
                           choices=[("", lazy_gettext("Choose a category")), *IDEA_CATEGORIES.items()])
    photo = FileField(lazy_gettext("Photo (optional): a JPEG or PNG, up to 10 MB"), widget=GovFileInput())
    # Shown on the edit form of an idea that has a photo; a new photo chosen as well replaces it.
    remove_photo = BooleanField(lazy_gettext("Remove the photo"), widget=GovCheckboxInput())
    submit = SubmitField(lazy_gettext("Propose idea"), widget=GovSubmitInput())


class ReviewForm(AppForm):
    decision = RadioField(lazy_gettext("Decision"), widget=GovRadioInput(), choices=[
        ("feasible", lazy_gettext("Feasible: can go on a ballot")),
        ("needs_changes", lazy_gettext("Needs changes: send it back to the proposer with a note")),
        ("not_feasible", lazy_gettext("Not feasible: give the reason the proposer will see")),
        ("hidden", lazy_gettext("Hide it (abusive): give the reason")),
    ], validators=[InputRequired(lazy_gettext("Choose a decision"))])
    team_cost = MoneyField(lazy_gettext("The team's cost estimate in pounds (for feasible ideas)"), optional=True)
    note = TextAreaField(lazy_gettext("Note or reason (the proposer sees it)"), widget=GovTextArea(),
                         validators=[Optional(), Length(max=1000)])
    submit = SubmitField(lazy_gettext("Save review"), widget=GovSubmitInput())


class RoundForm(AppForm):
    idempotency_key = HiddenField(validators=[Length(max=100)])
    title = StringField(lazy_gettext("Title"), widget=GovTextInput(), validators=[DataRequired(lazy_gettext("Enter a title")), Length(max=120)])
    budget = MoneyField(lazy_gettext("Budget in pounds"))
    opens_at, opens_time = _when("opens")
    closes_at, closes_time = _when("closes")
    ideas = SelectMultipleField(lazy_gettext("Feasible ideas on the ballot"), widget=GovCheckboxesInput(), coerce=ascii_int,
                                validators=[InputRequired(lazy_gettext("Choose at least one idea"))])
    ballot_type = RadioField(lazy_gettext("Ballot type"), widget=GovRadioInput(), choices=[
        ("approval", lazy_gettext("Approval: choose as many ideas as you like")),
        ("approval_k", lazy_gettext("Approval up to a number of ideas (give the number below)")),
        ("knapsack", lazy_gettext("Knapsack: choose ideas whose costs fit the budget")),
    ], validators=[InputRequired(lazy_gettext("Choose a ballot type"))])
    max_choices = WholeNumberField(lazy_gettext("Most ideas a voter may choose (approval up to a number)"),
                                   validators=[Optional()], minimum=1, maximum=100)
    rule = RadioField(lazy_gettext("How the votes are counted"), widget=GovRadioInput(), choices=[
        ("greedy", lazy_gettext("Greedy by votes: most votes first, skipping ideas that no longer fit")),
        ("mes-add1-greedy", lazy_gettext("Method of Equal Shares with completion: each voter gets an equal share "
                                         "of the budget to spend on the ideas they chose")),
    ], validators=[InputRequired(lazy_gettext("Choose how the votes are counted"))])
    submit = SubmitField(lazy_gettext("Open round and hold its budget"), widget=GovSubmitInput())

    def ensure_key(self) -> None:
        if not self.idempotency_key.data:
            self.idempotency_key.data = uuid.uuid4().hex


DELIVERY_STATUSES = {"funded": lazy_gettext("Funded"), "in_delivery": lazy_gettext("In delivery"),
                     "done": lazy_gettext("Done")}


class DeliveryForm(AppForm):
    """A short update; "done" is offered only for an idea already done: an idea becomes done
    through :class:`DoneForm`, with its closing note (ck_vote_idea_done_note)."""

    status = RadioField(lazy_gettext("Status"), widget=GovRadioInput(), choices=list(DELIVERY_STATUSES.items()),
                        validators=[InputRequired(lazy_gettext("Choose a status"))])
    text = TextAreaField(lazy_gettext("Short update"), widget=GovTextArea(),
                         validators=[DataRequired(lazy_gettext("Write a short update")), Length(max=1000)])
    submit = SubmitField(lazy_gettext("Post update"), widget=GovSubmitInput())

    @classmethod
    def for_status(cls, status: str, statuses) -> "DeliveryForm":
        """The form with only the statuses the idea can move to from ``status``."""
        form = cls()
        form.status.choices = [(s, DELIVERY_STATUSES[s]) for s in statuses.get(status, ())]
        return form


class MilestoneForm(AppForm):
    """A step of a funded idea's delivery. The done date's "not in the future" is the service's."""

    title = StringField(lazy_gettext("What the step is"), widget=GovTextInput(),
                        validators=[DataRequired(lazy_gettext("Enter what the step is")),
                                    Length(max=120, message=lazy_gettext("The step must be 120 characters or fewer"))])
    planned_on = DateInputField(lazy_gettext("Date it is planned for"),
                                required=lazy_gettext("Enter the date it is planned for"),
                                called=lazy_gettext("The planned date"))
    note = TextAreaField(lazy_gettext("Note for residents (optional)"), widget=GovTextArea(),
                         validators=[Optional(), Length(max=1000, message=lazy_gettext(
                             "The note must be 1,000 characters or fewer"))])
    done_on = DateInputField(lazy_gettext("Date it was done (leave empty if not done yet)"),
                             called=lazy_gettext("The date it was done"))
    photo = FileField(lazy_gettext("Photo (optional): a JPEG or PNG, up to 10 MB"), widget=GovFileInput())
    submit = SubmitField(lazy_gettext("Save step"), widget=GovSubmitInput())


class StepDoneForm(AppForm):
    """The "Mark done" button of a step (done today)."""

    submit = SubmitField(lazy_gettext("Mark done"), widget=GovSubmitInput())


_EXPIRED = lazy_gettext("This form has expired. Reload the page and try again.")


class DoneForm(AppForm):
    """Mark an idea done. The page shows what goes back to the team's budget; ``release`` sends
    that figure back (pence), so a commitment that changed meanwhile is shown again, not
    released; the idempotency key makes a double submit release once."""

    idempotency_key = HiddenField(validators=[Length(max=100)])
    release = HiddenField(validators=[InputRequired(_EXPIRED), Regexp(r"^[0-9]{1,12}$", message=_EXPIRED)])
    closing_note = TextAreaField(lazy_gettext("Closing note: what was delivered (residents see it)"),
                                 widget=GovTextArea(),
                                 validators=[DataRequired(lazy_gettext("Enter a closing note: what was delivered")),
                                             Length(max=2000, message=lazy_gettext(
                                                 "The closing note must be 2,000 characters or fewer"))])
    submit = SubmitField(lazy_gettext("Mark the idea done"), widget=GovSubmitInput())

    def ensure_key(self) -> None:
        if not self.idempotency_key.data:
            self.idempotency_key.data = uuid.uuid4().hex

    @property
    def release_pence(self) -> int | None:
        """The amount the page showed would go back (None if the form did not send one)."""
        return int(self.release.data) if re.fullmatch(r"[0-9]{1,12}", self.release.data or "") else None


class DecisionForm(AppForm):
    accept = RadioField(lazy_gettext("Decision"), widget=GovRadioInput(), choices=[
        ("1", lazy_gettext("Count the first keying")), ("2", lazy_gettext("Count the second keying")), ("reject", lazy_gettext("Reject the ballot"))],
        validators=[InputRequired(lazy_gettext("Choose a decision"))])
    reason = StringField(lazy_gettext("Reason (what the paper shows)"), widget=GovTextInput(),
                         validators=[DataRequired(lazy_gettext("Give a reason")), Length(max=500)])
    submit = SubmitField(lazy_gettext("Record decision"), widget=GovSubmitInput())
