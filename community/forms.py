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

from community.i18n import LANGUAGES, language, lazy_gettext
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
    name = StringField(lazy_gettext("Full name"), widget=GovTextInput(),
                       validators=[DataRequired(lazy_gettext("Enter your name")), Length(max=100, message=lazy_gettext("Name must be 100 characters or fewer"))])
    email = EmailField(lazy_gettext("Email address"), widget=GovTextInput(),
                       validators=[DataRequired(lazy_gettext("Enter your email address")), Length(max=254),
                                   Email(lazy_gettext("Enter an email address like name@example.com"))])
    password = PasswordField(lazy_gettext("Create a password"), widget=GovPasswordInput(),
                             validators=[InputRequired(lazy_gettext("Create a password")), Length(max=MAX_LENGTH)])
    postcode = StringField(lazy_gettext("Home postcode"), widget=GovTextInput(),
                           validators=[DataRequired(lazy_gettext("Enter your postcode")), Length(max=10, message=lazy_gettext("Enter a real postcode, like NG20 8AA"))])
    submit = SubmitField(lazy_gettext("Create account"), widget=GovSubmitInput())


class SignInForm(AppForm):
    email = EmailField(lazy_gettext("Email address"), widget=GovTextInput(),
                       validators=[DataRequired(lazy_gettext("Enter your email address")), Length(max=254)])
    password = PasswordField(lazy_gettext("Password"), widget=GovPasswordInput(),
                             validators=[InputRequired(lazy_gettext("Enter your password")), Length(max=MAX_LENGTH)])
    submit = SubmitField(lazy_gettext("Sign in"), widget=GovSubmitInput())


class ForgotPasswordForm(AppForm):
    email = EmailField(lazy_gettext("Email address"), widget=GovTextInput(),
                       validators=[DataRequired(lazy_gettext("Enter your email address")), Length(max=254),
                                   Email(lazy_gettext("Enter an email address like name@example.com"))])
    submit = SubmitField(lazy_gettext("Send me a link"), widget=GovSubmitInput())


class ResetPasswordForm(AppForm):
    password = PasswordField(lazy_gettext("New password"), widget=GovPasswordInput(),
                             validators=[InputRequired(lazy_gettext("Enter a new password")), Length(max=MAX_LENGTH)])
    submit = SubmitField(lazy_gettext("Set new password"), widget=GovSubmitInput())


class CodeForm(AppForm):
    code = StringField(lazy_gettext("Code from your authenticator app"), widget=GovTextInput(),
                       validators=[DataRequired(lazy_gettext("Enter the 6-digit code")),
                                   Length(max=40, message=lazy_gettext("Enter the 6-digit code or a recovery code"))])
    submit = SubmitField(lazy_gettext("Continue"), widget=GovSubmitInput())


class ReconfirmForm(AppForm):
    """Password and the current code again, before replacing the second factor."""

    password = PasswordField(lazy_gettext("Password"), widget=GovPasswordInput(),
                             validators=[InputRequired(lazy_gettext("Enter your password")), Length(max=MAX_LENGTH)])
    code = StringField(lazy_gettext("Code from your authenticator app"), widget=GovTextInput(),
                       validators=[DataRequired(lazy_gettext("Enter the 6-digit code")), Length(max=10)])
    submit = SubmitField(lazy_gettext("Confirm it is me"), widget=GovSubmitInput())


class ChangePasswordForm(AppForm):
    current_password = PasswordField(lazy_gettext("Current password"), widget=GovPasswordInput(),
                                     validators=[InputRequired(lazy_gettext("Enter your current password")), Length(max=MAX_LENGTH)])
    new_password = PasswordField(lazy_gettext("New password"), widget=GovPasswordInput(),
                                 validators=[InputRequired(lazy_gettext("Enter a new password")), Length(max=MAX_LENGTH)])
    submit = SubmitField(lazy_gettext("Change password"), widget=GovSubmitInput())


class PostcodeForm(AppForm):
    postcode = StringField(lazy_gettext("Home postcode"), widget=GovTextInput(),
                           validators=[DataRequired(lazy_gettext("Enter your postcode")),
                                       Length(max=10, message=lazy_gettext("Enter a real postcode, like NG20 8AA"))])
    submit = SubmitField(lazy_gettext("Save postcode"), widget=GovSubmitInput())


class NotificationsForm(AppForm):
    """One set of radios per kind of notification (fields added by :func:`notifications_form`)."""

    # Checked by the service (community/phones.py), and only when a kind goes by text.
    phone = StringField(lazy_gettext("UK mobile number, if you choose text messages"), widget=GovTextInput(),
                        validators=[Length(max=40, message=lazy_gettext("Enter a UK mobile number, like 07700 900 982"))])
    submit = SubmitField(lazy_gettext("Save your choices"), widget=GovSubmitInput())


def notifications_form(kinds: dict[str, str], channels: list[tuple[str, str]], current: dict[str, str],
                       phone: str | None = None):
    """The notifications form: for each kind (name → question), radios of the channels offered,
    and the mobile number for texts (shown when texts are offered)."""

    class Form(NotificationsForm):
        pass

    Form.phone = StringField(NotificationsForm.phone.args[0], widget=GovTextInput(), default=phone,
                             validators=NotificationsForm.phone.kwargs["validators"])
    Form.texts = any(value == "sms" for value, _label in channels)  # the template shows the phone field
    for name, question in kinds.items():
        setattr(Form, name, RadioField(question, widget=GovRadioInput(), choices=channels, default=current[name],
                                       validators=[InputRequired(lazy_gettext("Choose how you want to be told"))]))
    return Form()


class TeamForm(AppForm):
    name = StringField(lazy_gettext("Team name"), widget=GovTextInput(), validators=[DataRequired(lazy_gettext("Enter the team name")), Length(max=120)])
    slug = StringField(lazy_gettext("Short name for web addresses"), widget=GovTextInput(),
                       validators=[DataRequired(lazy_gettext("Enter a short name")), Length(max=60),
                                   Regexp(r"^[a-z0-9-]+$", message=lazy_gettext("Use lower-case letters, numbers and hyphens only"))])
    place_id = SelectField(lazy_gettext("Place"), widget=GovSelect(), coerce=ascii_int, validators=[InputRequired(lazy_gettext("Choose a place"))])
    cost_centre = StringField(lazy_gettext("Cost centre"), widget=GovTextInput(), validators=[DataRequired(lazy_gettext("Enter the cost centre")), Length(max=20)])
    submit = SubmitField(lazy_gettext("Create team"), widget=GovSubmitInput())


class PlaceForm(AppForm):
    name = StringField(lazy_gettext("Place name"), widget=GovTextInput(), validators=[DataRequired(lazy_gettext("Enter the place name")), Length(max=120)])
    slug = StringField(lazy_gettext("Short name for web addresses"), widget=GovTextInput(),
                       validators=[DataRequired(lazy_gettext("Enter a short name")), Length(max=60)])
    district = StringField(lazy_gettext("Local authority district"), widget=GovTextInput(), validators=[DataRequired(lazy_gettext("Enter the district")), Length(max=120)])
    districts = StringField(lazy_gettext("Postcode districts, separated by commas (e.g. NG20)"), widget=GovTextInput(),
                            validators=[DataRequired(lazy_gettext("Enter at least one postcode district")), Length(max=200)])
    submit = SubmitField(lazy_gettext("Create place"), widget=GovSubmitInput())


ROLE_CHOICES = [("member", lazy_gettext("Team member")), ("enabler", lazy_gettext("Team enabler")), ("finance", lazy_gettext("Finance")), ("admin", lazy_gettext("Admin"))]


class InviteForm(AppForm):
    email = EmailField(lazy_gettext("Email address"), widget=GovTextInput(),
                       validators=[DataRequired(lazy_gettext("Enter their email address")), Length(max=254), Email(lazy_gettext("Enter an email address like name@example.com"))])
    role = SelectField(lazy_gettext("Role"), widget=GovSelect(), choices=ROLE_CHOICES, validators=[InputRequired(lazy_gettext("Choose a role"))])
    team_id = SelectField(lazy_gettext("Team (for members and enablers)"), widget=GovSelect(), coerce=ascii_int)
    # For someone with no account yet (an account's own language wins); the page's by default.
    email_language = SelectField(lazy_gettext("Language of the invitation email"), widget=GovSelect(),
                                 choices=list(LANGUAGES.items()), default=language)
    submit = SubmitField(lazy_gettext("Send invitation"), widget=GovSubmitInput())


class RoleForm(AppForm):
    role = SelectField(lazy_gettext("Role"), widget=GovSelect(), choices=ROLE_CHOICES, validators=[InputRequired(lazy_gettext("Choose a role"))])
    team_id = SelectField(lazy_gettext("Team (for members and enablers)"), widget=GovSelect(), coerce=ascii_int)
    submit = SubmitField(lazy_gettext("Give role"), widget=GovSubmitInput())


class RevokeForm(AppForm):
    role = StringField(validators=[DataRequired(), Length(max=10)])
    team_id = StringField(validators=[Length(max=12)])
    submit = SubmitField(lazy_gettext("Remove"), widget=GovSubmitInput())


class ResetSecondFactorForm(AppForm):
    submit = SubmitField(lazy_gettext("Reset their second factor"), widget=GovSubmitInput())


class AcceptInvitationForm(AppForm):
    name = StringField(lazy_gettext("Full name"), widget=GovTextInput(), validators=[DataRequired(lazy_gettext("Enter your name")), Length(max=100)])
    password = PasswordField(lazy_gettext("Password"), widget=GovPasswordInput(),
                             validators=[InputRequired(lazy_gettext("Enter a password")), Length(max=MAX_LENGTH)])
    submit = SubmitField(lazy_gettext("Accept invitation"), widget=GovSubmitInput())


class ConfirmEmailForm(AppForm):
    password = PasswordField(lazy_gettext("Password"), widget=GovPasswordInput(),
                             validators=[InputRequired(lazy_gettext("Enter the password of this account")), Length(max=MAX_LENGTH)])
    submit = SubmitField(lazy_gettext("Confirm my email address"), widget=GovSubmitInput())


class ResendConfirmationForm(AppForm):
    pass


class AssistedSignUpForm(AppForm):
    name = StringField(lazy_gettext("Full name"), widget=GovTextInput(),
                       validators=[InputRequired(lazy_gettext("Enter the resident's name")), Length(max=100)])
    postcode = StringField(lazy_gettext("Home postcode"), widget=GovTextInput(),
                           validators=[InputRequired(lazy_gettext("Enter their home postcode")), Length(max=16)])
    phone = StringField(lazy_gettext("Phone number (optional)"), widget=GovTextInput(), validators=[Length(max=40)])
    request_key = HiddenField(validators=[Length(max=64)])  # one form, one account (a reload makes none)
    submit = SubmitField(lazy_gettext("Continue"), widget=GovSubmitInput())


class VotingCodeForm(AppForm):
    code = StringField(lazy_gettext("Voting code"), widget=GovTextInput(),
                       validators=[InputRequired(lazy_gettext("Enter the voting code printed on your slip")), Length(max=40)])
    submit = SubmitField(lazy_gettext("Continue"), widget=GovSubmitInput())


class LanguageForm(AppForm):
    """The language of a signed-in person's pages and emails (the account page, and the language
    switch at the top of every page, which posts ``language`` and ``next``)."""

    language = RadioField(lazy_gettext("Language"), widget=GovRadioInput(),
                          choices=[("en", "English"), ("pl", "Polski"), ("ro", "Română")],
                          validators=[InputRequired(lazy_gettext("Choose a language"))])
    next = HiddenField(validators=[Length(max=2000)])
    submit = SubmitField(lazy_gettext("Save language"), widget=GovSubmitInput())
