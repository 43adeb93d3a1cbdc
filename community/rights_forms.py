"""Forms for the residents' rights pages (community/rights_views.py): shape only."""

from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput
from wtforms import PasswordField, SubmitField
from wtforms.validators import InputRequired, Length

from community.forms import AppForm
from community.i18n import lazy_gettext
from community.passwords import MAX_LENGTH


class DownloadDataForm(AppForm):
    submit = SubmitField(lazy_gettext("Download my data"), widget=GovSubmitInput())


class DeleteAccountForm(AppForm):
    password = PasswordField(lazy_gettext("Your password"), widget=GovPasswordInput(),
                             validators=[InputRequired(lazy_gettext("Enter your password")),
                                         Length(max=MAX_LENGTH, message=lazy_gettext("Your password is not correct."))])
    submit = SubmitField(lazy_gettext("Delete my account"), widget=GovSubmitInput())
