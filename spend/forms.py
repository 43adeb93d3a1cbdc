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
from community.passwords import MAX_LENGTH
from ledger.forms import MoneyField, MoneyForm, _amount_field, _date_field
from spend.models import CATEGORIES, METHODS

BUDGET = "budget"


class RequestForm(AppForm):
    amount = MoneyField("How much, in pounds")
    payee = StringField("Who will be paid (a shop, supplier or organisation)", widget=GovTextInput(),
                        validators=[Length(max=200)])
    payee_is_individual = BooleanField("The money goes to an individual person (their name is never published)",
                                       widget=GovCheckboxInput())
    purpose = TextAreaField("What is it for? Plain words that can be published; no need to name the person helped",
                            widget=GovTextArea(),
                            validators=[DataRequired("Say in plain words what the money is for"), Length(max=500)])
    category = RadioField("Category", widget=GovRadioInput(), choices=list(CATEGORIES),
                          validators=[InputRequired("Choose a category")])
    account_id = SelectField("Pay from", widget=GovSelect(), validators=[InputRequired("Choose where the money comes from")])
    # Checked in spend.services.request_spend (the select is only shown when ideas exist).
    idea_id = SelectField("The resident idea it delivers (optional)", widget=GovSelect(), choices=[("", "None")],
                          validate_choice=False)
    submit = SubmitField("Send for approval", widget=GovSubmitInput())


class ActionForm(MoneyForm):
    """Approve, withdraw or cancel: a button with a CSRF token and an idempotency key."""

    submit = SubmitField("Confirm", widget=GovSubmitInput())


class RejectForm(AppForm):
    reason = TextAreaField("Reason for rejecting (the person who asked will see it)", widget=GovTextArea(),
                           validators=[DataRequired("Give a reason, so the person who asked knows why"),
                                       Length(max=500)])
    submit = SubmitField("Reject request", widget=GovSubmitInput())


class PayForm(MoneyForm):
    amount = _amount_field("Amount actually paid, in pounds")
    effective_date = _date_field("Date paid")
    method = RadioField("How it was paid", widget=GovRadioInput(), choices=list(METHODS),
                        validators=[InputRequired("Choose how it was paid")])
    receipt = FileField("Receipt: a photo (JPEG or PNG) or a PDF, up to 10 MB", widget=GovFileInput())
    submit = SubmitField("Record payment", widget=GovSubmitInput())


class LimitsForm(AppForm):
    """Two steps on one form: without ``confirmed`` the page shows what the change would do."""

    member_limit = MoneyField("A member may approve up to (pounds)")
    enabler_limit = MoneyField("The enabler may approve up to (pounds)")
    confirmed = HiddenField()
    submit = SubmitField("Check the change", widget=GovSubmitInput())


class DecideLimitsForm(AppForm):
    """Approve or refuse a change of limits (a reason is needed to refuse: checked by the service)."""

    reason = TextAreaField("Reason for refusing (the enabler sees it)", widget=GovTextArea(),
                           validators=[Length(max=500)])


class ConfirmIdentityForm(AppForm):
    password = PasswordField("Password", widget=GovPasswordInput(),
                             validators=[InputRequired("Enter your password"), Length(max=MAX_LENGTH)])
    code = StringField("Code from your authenticator app", widget=GovTextInput(),
                       validators=[DataRequired("Enter the 6-digit code"), Length(max=10)])
    submit = SubmitField("Confirm it is me", widget=GovSubmitInput())
