"""Forms of the community domain: shape only (required, length); rules live in services.

``AppForm`` is the base of every form in the app (tests/controls/test_input_hygiene.py walks
them all): it cleans every text field once, when it is bound, instead of form by form.
"""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovPasswordInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import (
    DecimalField,
    EmailField,
    FloatField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, Regexp, ValidationError

from community.numbers import ascii_int, whole_number
from community.passwords import MAX_LENGTH
from community.text import BIDI_MESSAGE, has_bidi_controls, strip_multi_line, strip_single_line

# Python's int()/Decimal()/float() read the digits of every script ("٥" is 5): see community/numbers.py.  # ok: not money
_UNICODE_NUMBER_FIELDS = (IntegerField, DecimalField, FloatField)


def refuse_bidi_controls(_form, field) -> None:
    """Validator of every text field: no bidirectional embedding, override or isolate characters."""
    typed = [field.data, *(field.raw_data or [])]  # raw too: a number field's data is an int
    if any(has_bidi_controls(value) for value in typed):
        raise ValidationError(BIDI_MESSAGE)


class AppForm(FlaskForm):
    """The base of every form: text fields are cleaned and checked as they are bound.

    Every ``StringField`` (so also ``TextAreaField``, ``EmailField``, ``HiddenField``, and the
    app's ``MoneyField`` and ``WholeNumberField``) gets, whatever its own declaration says:
    a filter that removes control characters (a multi-line field keeps tab and new lines) and
    a validator refusing bidirectional overrides, with a message beside the field (see
    community/text.py for why refuse, not neutralise). Passwords are left exactly as typed
    (they are compared, never shown). WTForms' number fields and ``coerce=ascii_int`` would take
    other scripts' digits, so binding one is a programming error: use ``WholeNumberField``,
    ``MoneyField`` or ``coerce=ascii_int``.
    """

    class Meta:
        def bind_field(self, form, unbound_field, options):
            field_class = unbound_field.field_class
            if issubclass(field_class, _UNICODE_NUMBER_FIELDS):
                raise TypeError(f"{form.__class__.__name__}: use WholeNumberField or MoneyField, not "
                                f"{field_class.__name__} (it reads digits of every script)")
            if unbound_field.kwargs.get("coerce") is int:
                raise TypeError(f"{form.__class__.__name__}: use coerce=ascii_int, not int "
                                "(int() reads digits of every script)")
            field = unbound_field.bind(form=form, **options)
            if isinstance(field, StringField) and not isinstance(field, PasswordField):
                multi_line = isinstance(field, TextAreaField)
                field.filters = (strip_multi_line if multi_line else strip_single_line, *field.filters)
                field.validators = [*field.validators, refuse_bidi_controls]
            return field


class WholeNumberField(StringField):
    """A whole number typed in ASCII digits (``"1,200"`` allowed); ``data`` is an int, or None
    when left empty (add ``Optional()``, or ``InputRequired`` to need one)."""

    def __init__(self, label=None, validators=None, *, minimum: int = 1, maximum: int | None = None, **kwargs):
        kwargs.setdefault("widget", GovTextInput())
        super().__init__(label, validators, **kwargs)
        self.minimum, self.maximum = minimum, maximum

    def process_formdata(self, valuelist) -> None:
        self.data = None
        if valuelist and (valuelist[0] or "").strip():
            self.data = whole_number(valuelist[0], minimum=self.minimum, maximum=self.maximum)

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else str(self.data)


class SignUpForm(AppForm):
    name = StringField("Full name", widget=GovTextInput(),
                       validators=[DataRequired("Enter your name"), Length(max=100, message="Name must be 100 characters or fewer")])
    email = EmailField("Email address", widget=GovTextInput(),
                       validators=[DataRequired("Enter your email address"), Length(max=254),
                                   Email("Enter an email address like name@example.com")])
    password = PasswordField("Create a password", widget=GovPasswordInput(),
                             validators=[InputRequired("Create a password"), Length(max=MAX_LENGTH)])
    postcode = StringField("Home postcode", widget=GovTextInput(),
                           validators=[DataRequired("Enter your postcode"), Length(max=10, message="Enter a real postcode, like NG20 8AA")])
    submit = SubmitField("Create account", widget=GovSubmitInput())


class SignInForm(AppForm):
    email = EmailField("Email address", widget=GovTextInput(),
                       validators=[DataRequired("Enter your email address"), Length(max=254)])
    password = PasswordField("Password", widget=GovPasswordInput(),
                             validators=[InputRequired("Enter your password"), Length(max=MAX_LENGTH)])
    submit = SubmitField("Sign in", widget=GovSubmitInput())


class ForgotPasswordForm(AppForm):
    email = EmailField("Email address", widget=GovTextInput(),
                       validators=[DataRequired("Enter your email address"), Length(max=254),
                                   Email("Enter an email address like name@example.com")])
    submit = SubmitField("Send me a link", widget=GovSubmitInput())


class ResetPasswordForm(AppForm):
    password = PasswordField("New password", widget=GovPasswordInput(),
                             validators=[InputRequired("Enter a new password"), Length(max=MAX_LENGTH)])
    submit = SubmitField("Set new password", widget=GovSubmitInput())


class CodeForm(AppForm):
    code = StringField("Code from your authenticator app", widget=GovTextInput(),
                       validators=[DataRequired("Enter the 6-digit code"),
                                   Length(max=40, message="Enter the 6-digit code or a recovery code")])
    submit = SubmitField("Continue", widget=GovSubmitInput())


class ReconfirmForm(AppForm):
    """Password and the current code again, before replacing the second factor."""

    password = PasswordField("Password", widget=GovPasswordInput(),
                             validators=[InputRequired("Enter your password"), Length(max=MAX_LENGTH)])
    code = StringField("Code from your authenticator app", widget=GovTextInput(),
                       validators=[DataRequired("Enter the 6-digit code"), Length(max=10)])
    submit = SubmitField("Confirm it is me", widget=GovSubmitInput())


class ChangePasswordForm(AppForm):
    current_password = PasswordField("Current password", widget=GovPasswordInput(),
                                     validators=[InputRequired("Enter your current password"), Length(max=MAX_LENGTH)])
    new_password = PasswordField("New password", widget=GovPasswordInput(),
                                 validators=[InputRequired("Enter a new password"), Length(max=MAX_LENGTH)])
    submit = SubmitField("Change password", widget=GovSubmitInput())


class PostcodeForm(AppForm):
    postcode = StringField("Home postcode", widget=GovTextInput(),
                           validators=[DataRequired("Enter your postcode"),
                                       Length(max=10, message="Enter a real postcode, like NG20 8AA")])
    submit = SubmitField("Save postcode", widget=GovSubmitInput())


class NotificationsForm(AppForm):
    """One set of radios per kind of notification (fields added by :func:`notifications_form`)."""

    submit = SubmitField("Save your choices", widget=GovSubmitInput())


def notifications_form(kinds: dict[str, str], channels: list[tuple[str, str]], current: dict[str, str]):
    """The notifications form: for each kind (name → question), radios of the channels offered."""

    class Form(NotificationsForm):
        pass

    for name, question in kinds.items():
        setattr(Form, name, RadioField(question, widget=GovRadioInput(), choices=channels, default=current[name],
                                       validators=[InputRequired("Choose how you want to be told")]))
    return Form()


class TeamForm(AppForm):
    name = StringField("Team name", widget=GovTextInput(), validators=[DataRequired("Enter the team name"), Length(max=120)])
    slug = StringField("Short name for web addresses", widget=GovTextInput(),
                       validators=[DataRequired("Enter a short name"), Length(max=60),
                                   Regexp(r"^[a-z0-9-]+$", message="Use lower-case letters, numbers and hyphens only")])
    place_id = SelectField("Place", widget=GovSelect(), coerce=ascii_int, validators=[InputRequired("Choose a place")])
    cost_centre = StringField("Cost centre", widget=GovTextInput(), validators=[DataRequired("Enter the cost centre"), Length(max=20)])
    submit = SubmitField("Create team", widget=GovSubmitInput())


class PlaceForm(AppForm):
    name = StringField("Place name", widget=GovTextInput(), validators=[DataRequired("Enter the place name"), Length(max=120)])
    slug = StringField("Short name for web addresses", widget=GovTextInput(),
                       validators=[DataRequired("Enter a short name"), Length(max=60)])
    district = StringField("Local authority district", widget=GovTextInput(), validators=[DataRequired("Enter the district"), Length(max=120)])
    districts = StringField("Postcode districts, separated by commas (e.g. NG20)", widget=GovTextInput(),
                            validators=[DataRequired("Enter at least one postcode district"), Length(max=200)])
    submit = SubmitField("Create place", widget=GovSubmitInput())


ROLE_CHOICES = [("member", "Team member"), ("enabler", "Team enabler"), ("finance", "Finance"), ("admin", "Admin")]


class InviteForm(AppForm):
    email = EmailField("Email address", widget=GovTextInput(),
                       validators=[DataRequired("Enter their email address"), Length(max=254), Email("Enter an email address like name@example.com")])
    role = SelectField("Role", widget=GovSelect(), choices=ROLE_CHOICES, validators=[InputRequired("Choose a role")])
    team_id = SelectField("Team (for members and enablers)", widget=GovSelect(), coerce=ascii_int)
    submit = SubmitField("Send invitation", widget=GovSubmitInput())


class RoleForm(AppForm):
    role = SelectField("Role", widget=GovSelect(), choices=ROLE_CHOICES, validators=[InputRequired("Choose a role")])
    team_id = SelectField("Team (for members and enablers)", widget=GovSelect(), coerce=ascii_int)
    submit = SubmitField("Give role", widget=GovSubmitInput())


class RevokeForm(AppForm):
    role = StringField(validators=[DataRequired(), Length(max=10)])
    team_id = StringField(validators=[Length(max=12)])
    submit = SubmitField("Remove", widget=GovSubmitInput())


class ResetSecondFactorForm(AppForm):
    submit = SubmitField("Reset their second factor", widget=GovSubmitInput())


class AcceptInvitationForm(AppForm):
    name = StringField("Full name", widget=GovTextInput(), validators=[DataRequired("Enter your name"), Length(max=100)])
    password = PasswordField("Password", widget=GovPasswordInput(),
                             validators=[InputRequired("Enter a password"), Length(max=MAX_LENGTH)])
    submit = SubmitField("Accept invitation", widget=GovSubmitInput())


class ConfirmEmailForm(AppForm):
    password = PasswordField("Password", widget=GovPasswordInput(),
                             validators=[InputRequired("Enter the password of this account"), Length(max=MAX_LENGTH)])
    submit = SubmitField("Confirm my email address", widget=GovSubmitInput())


class ResendConfirmationForm(AppForm):
    pass


class AssistedSignUpForm(AppForm):
    name = StringField("Full name", widget=GovTextInput(),
                       validators=[InputRequired("Enter the resident's name"), Length(max=100)])
    postcode = StringField("Home postcode", widget=GovTextInput(),
                           validators=[InputRequired("Enter their home postcode"), Length(max=16)])
    phone = StringField("Phone number (optional)", widget=GovTextInput(), validators=[Length(max=40)])
    request_key = HiddenField(validators=[Length(max=64)])  # one form, one account (a reload makes none)
    submit = SubmitField("Continue", widget=GovSubmitInput())


class VotingCodeForm(AppForm):
    code = StringField("Voting code", widget=GovTextInput(),
                       validators=[InputRequired("Enter the voting code printed on your slip"), Length(max=40)])
    submit = SubmitField("Continue", widget=GovSubmitInput())
