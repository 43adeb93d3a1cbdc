"""Forms of the pledges domain: shape only. Money, hours and quantities are parsed at the edge
(``parse_*`` in the views), dates by the GOV.UK date input (community/dates.py); the rules live in
``pledges.services``."""

from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from community.dates import DateInputField
from community.db import london_today
from community.forms import AppForm
from community.i18n import lazy_gettext
from community.numbers import ascii_int
from ledger.forms import MoneyField, MoneyForm

NO_IDEA = lazy_gettext("Not towards a particular idea")

VISIBILITY_CHOICES = [
    ("public_named", lazy_gettext("Public, with the name")),
    ("public_anonymous", lazy_gettext("Public, as “anonymous”")),
    ("private", lazy_gettext("Private: only the team can see it")),
]
FREQUENCY_CHOICES = [("once", lazy_gettext("Once")), ("week", lazy_gettext("Every week")), ("month", lazy_gettext("Every month"))]
METHOD_CHOICES = [("bank transfer", lazy_gettext("Bank transfer")), ("cheque", lazy_gettext("Cheque")), ("cash", lazy_gettext("Cash")),
                  ("card", lazy_gettext("Card")), ("other", lazy_gettext("Other"))]


def _text(label: str, length: int, *validators) -> StringField:
    return StringField(label, widget=GovTextInput(), validators=[*validators, Length(max=length)])


_GIVEN_ON = (lazy_gettext("Date"), lazy_gettext("Enter the date"), lazy_gettext("Date must be today or in the past"))


def _given_on(label=_GIVEN_ON[0], required=_GIVEN_ON[1], too_late=_GIVEN_ON[2]) -> DateInputField:
    """The day something was given: today or earlier (``pledges.services`` checks it again)."""
    return DateInputField(label, required=required, latest=london_today, too_late=too_late)


def _idea_or_none(value) -> int | None:
    return None if value in (None, "") else ascii_int(value)


class IdeaSelectField(SelectField):
    """The team's ideas by title (the view gives the choices, ``pledges.services.pledge_ideas``),
    first "Not towards a particular idea"; ``data`` is the idea's id or None. Anything posted
    that is not in the list is refused beside the field."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("widget", GovSelect())
        super().__init__(label, validators, coerce=_idea_or_none, choices=[("", NO_IDEA)], **kwargs)

    def process_formdata(self, valuelist) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = -1  # not a number of the list: refused in pre_validate

    def pre_validate(self, form) -> None:
        if self.data not in {_idea_or_none(value) for value, _label in self.choices}:
            raise ValidationError(lazy_gettext("Choose an idea from the list"))


class PledgeForm(AppForm):
    """Every field of every kind; the view removes the ones that do not apply."""

    description = _text(lazy_gettext("What are you pledging?"), 500, DataRequired(lazy_gettext("Say what you are pledging")))
    amount = MoneyField(lazy_gettext("Amount in pounds"))
    hours = _text(lazy_gettext("Hours each time"), 10)
    frequency = RadioField(lazy_gettext("How often?"), widget=GovRadioInput(), choices=FREQUENCY_CHOICES, default="once",
                           validators=[DataRequired(lazy_gettext("Choose once, every week or every month"))])
    quantity = _text(lazy_gettext("How many?"), 10)
    room = _text(lazy_gettext("Which room or hall?"), 200)
    when_text = _text(lazy_gettext("When is it available? (for example, Fridays 6pm to 9pm)"), 200)
    estimated_value = MoneyField(lazy_gettext("Estimated value in pounds (optional)"), optional=True)
    due_on = DateInputField(lazy_gettext("By when? (optional)"), called=lazy_gettext("The date"),
                            earliest=london_today, too_early=lazy_gettext("The date must be today or in the future"))
    idea_id = IdeaSelectField(lazy_gettext("Towards an idea (optional)"))
    visibility = RadioField(lazy_gettext("Who can see this pledge?"), widget=GovRadioInput(), choices=VISIBILITY_CHOICES,
                            default="public_named", validators=[DataRequired(lazy_gettext("Choose who can see this pledge"))])
    on_behalf_name = _text(lazy_gettext("On behalf of (the organisation or person pledging; leave empty if it is you)"), 200)
    on_behalf_is_organisation = BooleanField(lazy_gettext("This is an organisation"), widget=GovCheckboxInput())
    contact_email = _text(lazy_gettext("Their email address (only the team sees it)"), 254, Optional())
    contact_phone = _text(lazy_gettext("Phone number (optional, only the team sees it)"), 40, Optional())
    submit = SubmitField(lazy_gettext("Make pledge"), widget=GovSubmitInput())


class MoneyReceivedForm(MoneyForm):
    """Money handed over for a pledge (``ensure_date`` puts today in the boxes)."""

    amount = MoneyField(lazy_gettext("Amount received in pounds"))
    effective_date = _given_on(lazy_gettext("Date received"), lazy_gettext("Enter the date received"),
                               lazy_gettext("Date received must be today or in the past"))
    method = SelectField(lazy_gettext("How was it paid?"), widget=GovSelect(), choices=METHOD_CHOICES)
    receipt_ref = _text(lazy_gettext("Receipt or bank reference"), 200, DataRequired(lazy_gettext("Enter the receipt or bank reference")))
    extra_as_gift = BooleanField(lazy_gettext("If this is more than was promised, record the extra as a separate gift"),
                                 widget=GovCheckboxInput())
    submit = SubmitField(lazy_gettext("Record money received"), widget=GovSubmitInput())


class HoursForm(MoneyForm):
    hours = _text(lazy_gettext("Hours given on the day"), 10)
    effective_date = _given_on()
    given_by = _text(lazy_gettext("Given by (leave empty for the pledger)"), 200)
    note = _text(lazy_gettext("Note (optional)"), 500)
    completes = BooleanField(lazy_gettext("This completes the pledge"), widget=GovCheckboxInput())
    submit = SubmitField(lazy_gettext("Record hours given"), widget=GovSubmitInput())


class DeliveryForm(MoneyForm):
    quantity = _text(lazy_gettext("How many were delivered?"), 10)
    effective_date = _given_on()
    note = _text(lazy_gettext("Note (optional)"), 500)
    completes = BooleanField(lazy_gettext("This completes the pledge"), widget=GovCheckboxInput())
    submit = SubmitField(lazy_gettext("Record delivery"), widget=GovSubmitInput())


class WithdrawForm(AppForm):
    reason = _text(lazy_gettext("Why is the pledge being withdrawn?"), 500, DataRequired(lazy_gettext("Say why the pledge is being withdrawn")))
    submit = SubmitField(lazy_gettext("Withdraw pledge"), widget=GovSubmitInput())


class CommunityPledgeForm(AppForm):
    title = _text(lazy_gettext("Short name, like “Being Kind in Shirebrook”"), 120, DataRequired(lazy_gettext("Give the pledge a short name")))
    promise = TextAreaField(lazy_gettext("The promise people will sign"), widget=GovTextArea(),
                            validators=[DataRequired(lazy_gettext("Write the promise people will sign")), Length(max=1000)])
    submit = SubmitField(lazy_gettext("Create community pledge"), widget=GovSubmitInput())


class SignForm(AppForm):
    anonymous = BooleanField(lazy_gettext("Sign anonymously (your name is not shown)"), widget=GovCheckboxInput())
    submit = SubmitField(lazy_gettext("Sign this pledge"), widget=GovSubmitInput())


class UnsignForm(AppForm):
    submit = SubmitField(lazy_gettext("Withdraw my signature"), widget=GovSubmitInput())


class ReminderForm(AppForm):
    submit = SubmitField(lazy_gettext("Email a polite reminder"), widget=GovSubmitInput())


class RateForm(AppForm):
    rate = MoneyField(lazy_gettext("Notional hourly rate in pounds"))
    submit = SubmitField(lazy_gettext("Save hourly rate"), widget=GovSubmitInput())
