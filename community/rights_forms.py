"""Forms for the residents' rights pages (community/rights_views.py): shape only."""

from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput
from wtforms import PasswordField, SubmitField
from wtforms.validators import InputRequired, Length

from community.forms import AppForm
from community.passwords import MAX_LENGTH


class DownloadDataForm(AppForm):
    submit = SubmitField("Download my data", widget=GovSubmitInput())


class DeleteAccountForm(AppForm):
    password = PasswordField("Your password", widget=GovPasswordInput(),
                             validators=[InputRequired("Enter your password"),
                                         Length(max=MAX_LENGTH, message="Your password is not correct.")])
    submit = SubmitField("Delete my account", widget=GovSubmitInput())
