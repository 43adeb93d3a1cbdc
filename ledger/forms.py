"""Forms of the ledger domain: shape only; money and dates are parsed at the edge (dates by the
GOV.UK date input, community/dates.py), rules live in ``ledger.services``. Money-moving forms
carry a hidden idempotency key."""

import datetime as dt
import re
import uuid

from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput, GovSelect, GovSubmitInput, GovTextInput
from wtforms import BooleanField, HiddenField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from community.dates import DateInputField
from community.db import london_today
from community.forms import AppForm
from community.i18n import gettext, lazy_gettext
from community.numbers import ascii_int, refuse_other_digits
from ledger import codes
from ledger.errors import InvalidAmount
from ledger.money import parse_pence

_MONTH = re.compile(r"^[0-9]{4}-[0-9]{2}$")


def parse_month(text: str | None) -> dt.date:
    """``YYYY-MM`` → the first day of that month; ValueError with a user-safe message otherwise."""
    raw = (text or "").strip()
    refuse_other_digits(raw, gettext("Use the digits 0 to 9, like 2026-03."))
    if not _MONTH.match(raw):
        raise ValueError(gettext("Enter the month as year-month, like 2026-03."))
    try:
        return dt.date.fromisoformat(f"{raw}-01")
    except ValueError:
        raise ValueError(gettext("Enter a real month, like 2026-03.")) from None


def _amount(_form, field) -> None:
    try:
        parse_pence(field.data)
    except InvalidAmount as error:
        raise ValidationError(str(error)) from None


def _month(_form, field) -> None:
    try:
        parse_month(field.data)
    except ValueError as error:
        raise ValidationError(str(error)) from None


class MoneyField(StringField):
    """An amount in pounds, typed as text (``data`` stays the text; views parse it with
    ``parse_pence``, or read ``pence``). The one field of every money form: ASCII digits, at most
    two places, more than £0 and at most £1,000,000, messages beside the field."""

    def __init__(self, label: str = lazy_gettext("Amount in pounds"), validators=None, *, optional: bool = False, **kwargs):
        kwargs.setdefault("widget", GovTextInput())
        chain = [Optional()] if optional else []
        super().__init__(label, [*chain, *(validators or []), Length(max=30), _amount], **kwargs)

    @property
    def pence(self) -> int | None:
        """The amount in pence, or None when left empty or not valid."""
        try:
            return parse_pence(self.data) if (self.data or "").strip() else None
        except InvalidAmount:
            return None


class MoneyForm(AppForm):
    """A form that moves money: a fresh idempotency key when first shown, re-posted on error."""

    idempotency_key = HiddenField(validators=[Length(max=100)])

    def ensure_key(self) -> None:
        if not self.idempotency_key.data:
            self.idempotency_key.data = uuid.uuid4().hex

    def ensure_date(self) -> None:
        """Today's London date in the boxes when the form is first shown (what was typed stays)."""
        if self.effective_date.data is None and self.effective_date.raw_data is None:
            self.effective_date.data = london_today()


def _amount_field(label: str = lazy_gettext("Amount in pounds")) -> MoneyField:
    return MoneyField(label)


ENTRY_DATE_HINT = lazy_gettext("The date must be in an open month, up to today (UK time).")


def _date_field(label: str = lazy_gettext("Effective date"), required: str = lazy_gettext("Enter the effective date")
                ) -> DateInputField:
    """The date of a ledger entry; whether its month is open is ``ledger.services``' to say."""
    return DateInputField(label, required=required, description=ENTRY_DATE_HINT)


class AllocateForm(MoneyForm):
    team_id = SelectField(lazy_gettext("Team"), widget=GovSelect(), coerce=ascii_int, validators=[InputRequired(lazy_gettext("Choose a team"))])
    amount = _amount_field()
    effective_date = _date_field()
    cost_centre = StringField(lazy_gettext("Cost centre (leave empty for the team's own)"), widget=GovTextInput(),
                              validators=[Optional(), Length(max=20)])
    gl_code = StringField(lazy_gettext("GL code"), widget=GovTextInput(), default=codes.ALLOCATION_GL_CODE,
                          description=lazy_gettext("The income code of this money in the council's ledger (budget "
                                                   "allocations are %(code)s).", code=codes.ALLOCATION_GL_CODE),
                          validators=[DataRequired(lazy_gettext("Enter the GL code for this allocation")), Length(max=20)])
    description = StringField(lazy_gettext("Description"), widget=GovTextInput(), default="Budget allocation",
                              validators=[DataRequired(lazy_gettext("Enter a description")), Length(max=500)])
    submit = SubmitField(lazy_gettext("Allocate money"), widget=GovSubmitInput())


class VirementForm(MoneyForm):
    from_team_id = SelectField(lazy_gettext("From team"), widget=GovSelect(), coerce=ascii_int,
                               validators=[InputRequired(lazy_gettext("Choose a team"))])
    to_team_id = SelectField(lazy_gettext("To team"), widget=GovSelect(), coerce=ascii_int,
                             validators=[InputRequired(lazy_gettext("Choose a team"))])
    amount = _amount_field()
    reason = StringField(lazy_gettext("Reason"), widget=GovTextInput(),
                         validators=[DataRequired(lazy_gettext("Give a reason for the virement")), Length(max=500)])
    effective_date = _date_field()
    submit = SubmitField(lazy_gettext("Move money"), widget=GovSubmitInput())


class ReverseForm(MoneyForm):
    """Sent from the page that shows the entry (ledger/reversals.py ``preview``): the entry is
    named as the ledger shows it, ``L000341``."""

    entry_id = HiddenField(validators=[DataRequired(lazy_gettext("Enter the entry reference")), Length(max=20)])
    reason = StringField(lazy_gettext("Reason"), widget=GovTextInput(),
                         validators=[DataRequired(lazy_gettext("Give a reason for the reversal")), Length(max=500)])
    effective_date = _date_field()
    submit = SubmitField(lazy_gettext("Reverse the entry"), widget=GovSubmitInput())


class DecideReversalForm(AppForm):
    """Approve or refuse a reversal held for a second finance person (the buttons say which)."""

    submit = SubmitField(lazy_gettext("Approve"), widget=GovSubmitInput())


class CloseMonthForm(AppForm):
    month = StringField(lazy_gettext("Month to close (year-month, like 2026-03)"), widget=GovTextInput(),
                        validators=[Length(max=7), _month])
    confirm = BooleanField(lazy_gettext("I understand that no entry can be dated in this month or any earlier month "
                                        "once it is closed"),
                           widget=GovCheckboxInput(),
                           validators=[DataRequired(lazy_gettext("Confirm that you want to close the month"))])
    submit = SubmitField(lazy_gettext("Close month"), widget=GovSubmitInput())
