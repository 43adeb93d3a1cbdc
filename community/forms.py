"""Forms of the community domain: shape only (required, length); rules live in services."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovPasswordInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, InputRequired, Length, Regexp

from community.passwords import MAX_LENGTH


class SignUpForm(FlaskForm):
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


class SignInForm(FlaskForm):
    email = EmailField("Email address", widget=GovTextInput(),
                       validators=[DataRequired("Enter your email address"), Length(max=254)])
    password = PasswordField("Password", widget=GovPasswordInput(),
                             validators=[InputRequired("Enter your password"), Length(max=MAX_LENGTH)])
    submit = SubmitField("Sign in", widget=GovSubmitInput())


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email address", widget=GovTextInput(),
                       validators=[DataRequired("Enter your email address"), Length(max=254),
                                   Email("Enter an email address like name@example.com")])
    submit = SubmitField("Send me a link", widget=GovSubmitInput())


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", widget=GovPasswordInput(),
                             validators=[InputRequired("Enter a new password"), Length(max=MAX_LENGTH)])
    submit = SubmitField("Set new password", widget=GovSubmitInput())


class CodeForm(FlaskForm):
    code = StringField("Code from your authenticator app", widget=GovTextInput(),
                       validators=[DataRequired("Enter the 6-digit code"),
                                   Length(max=40, message="Enter the 6-digit code or a recovery code")])
    submit = SubmitField("Continue", widget=GovSubmitInput())


class ReconfirmForm(FlaskForm):
    """Password and the current code again, before replacing the second factor."""

    password = PasswordField("Password", widget=GovPasswordInput(),
                             validators=[InputRequired("Enter your password"), Length(max=MAX_LENGTH)])
    code = StringField("Code from your authenticator app", widget=GovTextInput(),
                       validators=[DataRequired("Enter the 6-digit code"), Length(max=10)])
    submit = SubmitField("Confirm it is me", widget=GovSubmitInput())


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", widget=GovPasswordInput(),
                                     validators=[InputRequired("Enter your current password"), Length(max=MAX_LENGTH)])
    new_password = PasswordField("New password", widget=GovPasswordInput(),
                                 validators=[InputRequired("Enter a new password"), Length(max=MAX_LENGTH)])
    submit = SubmitField("Change password", widget=GovSubmitInput())


class PostcodeForm(FlaskForm):
    postcode = StringField("Home postcode", widget=GovTextInput(),
                           validators=[DataRequired("Enter your postcode"),
                                       Length(max=10, message="Enter a real postcode, like NG20 8AA")])
    submit = SubmitField("Save postcode", widget=GovSubmitInput())


class TeamForm(FlaskForm):
    name = StringField("Team name", widget=GovTextInput(), validators=[DataRequired("Enter the team name"), Length(max=120)])
    slug = StringField("Short name for web addresses", widget=GovTextInput(),
                       validators=[DataRequired("Enter a short name"), Length(max=60),
                                   Regexp(r"^[a-z0-9-]+$", message="Use lower-case letters, numbers and hyphens only")])
    place_id = SelectField("Place", widget=GovSelect(), coerce=int, validators=[InputRequired("Choose a place")])
    cost_centre = StringField("Cost centre", widget=GovTextInput(), validators=[DataRequired("Enter the cost centre"), Length(max=20)])
    submit = SubmitField("Create team", widget=GovSubmitInput())


class PlaceForm(FlaskForm):
    name = StringField("Place name", widget=GovTextInput(), validators=[DataRequired("Enter the place name"), Length(max=120)])
    slug = StringField("Short name for web addresses", widget=GovTextInput(),
                       validators=[DataRequired("Enter a short name"), Length(max=60)])
    district = StringField("Local authority district", widget=GovTextInput(), validators=[DataRequired("Enter the district"), Length(max=120)])
    districts = StringField("Postcode districts, separated by commas (e.g. NG20)", widget=GovTextInput(),
                            validators=[DataRequired("Enter at least one postcode district"), Length(max=200)])
    submit = SubmitField("Create place", widget=GovSubmitInput())


ROLE_CHOICES = [("member", "Team member"), ("enabler", "Team enabler"), ("finance", "Finance"), ("admin", "Admin")]


class InviteForm(FlaskForm):
    email = EmailField("Email address", widget=GovTextInput(),
                       validators=[DataRequired("Enter their email address"), Length(max=254), Email("Enter an email address like name@example.com")])
    role = SelectField("Role", widget=GovSelect(), choices=ROLE_CHOICES, validators=[InputRequired("Choose a role")])
    team_id = SelectField("Team (for members and enablers)", widget=GovSelect(), coerce=int)
    submit = SubmitField("Send invitation", widget=GovSubmitInput())


class RoleForm(FlaskForm):
    role = SelectField("Role", widget=GovSelect(), choices=ROLE_CHOICES, validators=[InputRequired("Choose a role")])
    team_id = SelectField("Team (for members and enablers)", widget=GovSelect(), coerce=int)
    submit = SubmitField("Give role", widget=GovSubmitInput())


class RevokeForm(FlaskForm):
    role = StringField(validators=[DataRequired(), Length(max=10)])
    team_id = StringField(validators=[Length(max=12)])
    submit = SubmitField("Remove", widget=GovSubmitInput())


class ResetSecondFactorForm(FlaskForm):
    submit = SubmitField("Reset their second factor", widget=GovSubmitInput())


class AcceptInvitationForm(FlaskForm):
    name = StringField("Full name", widget=GovTextInput(), validators=[DataRequired("Enter your name"), Length(max=100)])
    password = PasswordField("Password", widget=GovPasswordInput(),
                             validators=[InputRequired("Enter a password"), Length(max=MAX_LENGTH)])
    submit = SubmitField("Accept invitation", widget=GovSubmitInput())


class ConfirmEmailForm(FlaskForm):
    password = PasswordField("Password", widget=GovPasswordInput(),
                             validators=[InputRequired("Enter the password of this account"), Length(max=MAX_LENGTH)])
    submit = SubmitField("Confirm my email address", widget=GovSubmitInput())


class ResendConfirmationForm(FlaskForm):
    pass


class AssistedSignUpForm(FlaskForm):
    name = StringField("Full name", widget=GovTextInput(),
                       validators=[InputRequired("Enter the resident's name"), Length(max=100)])
    postcode = StringField("Home postcode", widget=GovTextInput(),
                           validators=[InputRequired("Enter their home postcode"), Length(max=16)])
    phone = StringField("Phone number (optional)", widget=GovTextInput(), validators=[Length(max=40)])
    request_key = HiddenField(validators=[Length(max=64)])  # one form, one account (a reload makes none)
    submit = SubmitField("Continue", widget=GovSubmitInput())


class VotingCodeForm(FlaskForm):
    code = StringField("Voting code", widget=GovTextInput(),
                       validators=[InputRequired("Enter the voting code printed on your slip"), Length(max=40)])
    submit = SubmitField("Continue", widget=GovSubmitInput())
