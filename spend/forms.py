"""Forms of quick spend: shape only; money, dates (the GOV.UK date input) and receipts are checked at the edge, the
rules live in ``spend.services``. Money-moving forms carry a hidden idempotency key."""

from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovFileInput,
    GovPasswordInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length

from community.forms import AppForm
from community.i18n import lazy_gettext
from community.passwords import MAX_LENGTH
from ledger.forms import MoneyField, MoneyForm, _amount_field, _date_field
from spend.models import CATEGORIES, METHODS

BUDGET = "budget"


class RequestForm(AppForm):
    amount = MoneyField(lazy_gettext("How much, in pounds"))
    payee = StringField(lazy_gettext("Who will be paid (a shop, supplier or organisation)"), widget=GovTextInput(),
                        validators=[Length(max=200)])
    payee_is_individual = BooleanField(lazy_gettext("The money goes to an individual person (their name is never published)"),
                                       widget=GovCheckboxInput())
    purpose = TextAreaField(lazy_gettext("What is it for? Plain words that can be published; no need to name the person helped"),
                            widget=GovTextArea(),
                            validators=[DataRequired(lazy_gettext("Say in plain words what the money is for")), Length(max=500)])
    category = RadioField(lazy_gettext("Category"), widget=GovRadioInput(), choices=list(CATEGORIES),
                          validators=[InputRequired(lazy_gettext("Choose a category"))])
    account_id = SelectField(lazy_gettext("Pay from"), widget=GovSelect(), validators=[InputRequired(lazy_gettext("Choose where the money comes from"))])
    # Checked in spend.services.request_spend (the select is only shown when ideas exist).
    idea_id = SelectField(lazy_gettext("The resident idea it delivers (optional)"), widget=GovSelect(), choices=[("", lazy_gettext("None"))],
                          validate_choice=False)
    submit = SubmitField(lazy_gettext("Send for approval"), widget=GovSubmitInput())


class ActionForm(MoneyForm):
    """Approve, withdraw or cancel: a button with a CSRF token and an idempotency key."""

    submit = SubmitField(lazy_gettext("Confirm"), widget=GovSubmitInput())


class CancelForm(ActionForm):
    """Cancel an approval: ``to_idea`` is what the page said would go back to a funded idea, so a
    change since (the idea done meanwhile) is shown rather than done."""

    to_idea = HiddenField()

    @property
    def expected_to_idea_pence(self) -> int | None:
        value = (self.to_idea.data or "").strip()
        return int(value) if value.isdigit() and len(value) < 16 else None


class RejectForm(AppForm):
    reason = TextAreaField(lazy_gettext("Reason for rejecting (the person who asked will see it)"), widget=GovTextArea(),
                           validators=[DataRequired(lazy_gettext("Give a reason, so the person who asked knows why")),
                                       Length(max=500)])
    submit = SubmitField(lazy_gettext("Reject request"), widget=GovSubmitInput())


class PayForm(MoneyForm):
    amount = _amount_field(lazy_gettext("Amount actually paid, in pounds"))
    effective_date = _date_field(lazy_gettext("Date paid"), lazy_gettext("Enter the date paid"))
    method = RadioField(lazy_gettext("How it was paid"), widget=GovRadioInput(), choices=list(METHODS),
                        validators=[InputRequired(lazy_gettext("Choose how it was paid"))])
    receipt = FileField(lazy_gettext("Receipt: a photo (JPEG or PNG) or a PDF, up to 10 MB"), widget=GovFileInput())
    submit = SubmitField(lazy_gettext("Record payment"), widget=GovSubmitInput())


class LimitsForm(AppForm):
    """Two steps on one form: without ``confirmed`` the page shows what the change would do."""

    member_limit = MoneyField(lazy_gettext("A member may approve up to (pounds)"))
    enabler_limit = MoneyField(lazy_gettext("The enabler may approve up to (pounds)"))
    confirmed = HiddenField()
    submit = SubmitField(lazy_gettext("Check the change"), widget=GovSubmitInput())


class DecideLimitsForm(AppForm):
    """Approve or refuse a change of limits (a reason is needed to refuse: checked by the service)."""

    reason = TextAreaField(lazy_gettext("Reason for refusing (the enabler sees it)"), widget=GovTextArea(),
                           validators=[Length(max=500)])


class ConfirmIdentityForm(AppForm):
    password = PasswordField(lazy_gettext("Password"), widget=GovPasswordInput(),
                             validators=[InputRequired(lazy_gettext("Enter your password")), Length(max=MAX_LENGTH)])
    code = StringField(lazy_gettext("Code from your authenticator app"), widget=GovTextInput(),
                       validators=[DataRequired(lazy_gettext("Enter the 6-digit code")), Length(max=10)])
    submit = SubmitField(lazy_gettext("Confirm it is me"), widget=GovSubmitInput())
