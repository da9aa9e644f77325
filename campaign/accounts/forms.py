from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SubmitField
from wtforms.validators import InputRequired

from campaign.models import EmailFrequency

FREQUENCY_CHOICES = [
    (EmailFrequency.IMMEDIATELY.value, "Immediately: an email for each piece of news"),
    (EmailFrequency.DAILY.value, "A daily digest: one email a day at most"),
    (EmailFrequency.WEEKLY.value, "A weekly digest: one email on Mondays at most"),
    (EmailFrequency.NEVER.value, "Never: no news by email"),
]

#: The end of "Saved: we will email you …".
FREQUENCY_SAVED = {
    EmailFrequency.IMMEDIATELY: "each piece of news as it happens",
    EmailFrequency.DAILY: "a daily digest",
    EmailFrequency.WEEKLY: "a weekly digest",
    EmailFrequency.NEVER: "no news (emails about your account still come)",
}


class EmailSettingsForm(FlaskForm):
    email_frequency = RadioField(
        "How often should we email you news of the campaigns you support and organise?",
        choices=[SelectChoice(value, label) for value, label in FREQUENCY_CHOICES],
        validators=[InputRequired(message="Choose how often we email you.")],
        description="Updates, milestones, brands’ answers, victories and status changes. "
                    "Emails about your account (confirmations, password resets) always come "
                    "at once.")
    submit = SubmitField("Save")
