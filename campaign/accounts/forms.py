from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SubmitField
from wtforms.validators import InputRequired

from campaign.models import EmailFrequency

FREQUENCY_CHOICES = [
    (EmailFrequency.IMMEDIATELY.value, _l("Immediately: an email for each piece of news")),
    (EmailFrequency.DAILY.value, _l("A daily digest: one email a day at most")),
    (EmailFrequency.WEEKLY.value, _l("A weekly digest: one email on Mondays at most")),
    (EmailFrequency.NEVER.value, _l("Never: no news by email")),
]

#: The end of "Saved: we will email you …".
FREQUENCY_SAVED = {
    EmailFrequency.IMMEDIATELY: _l("each piece of news as it happens"),
    EmailFrequency.DAILY: _l("a daily digest"),
    EmailFrequency.WEEKLY: _l("a weekly digest"),
    EmailFrequency.NEVER: _l("no news (emails about your account still come)"),
}


class EmailSettingsForm(FlaskForm):
    email_frequency = RadioField(
        _l("How often should we email you news of the campaigns you support and organise?"),
        choices=[SelectChoice(value, label) for value, label in FREQUENCY_CHOICES],
        validators=[InputRequired(message=_l("Choose how often we email you."))],
        description=_l(
            "Updates, milestones, brands’ answers, victories and status changes. "
            "Emails about your account (confirmations, password resets) always come "
            "at once."
        ),
    )
    submit = SubmitField(_l("Save"))
