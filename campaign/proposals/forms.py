from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, RadioField, SelectChoice, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from campaign.auth.forms import strip
from campaign.campaigns.forms import TargetBrandForm
from campaign.models import PROPOSAL_STATUS_LABELS


class ProposalForm(TargetBrandForm):
    """A proposal is an idea for one brand; the story carries the idea itself."""


class InviteCoauthorForm(FlaskForm):
    email = EmailField(
        _l("Their Groundswell account email"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Enter the member's email address.")),
            Email(message=_l("Enter an email address like name@example.org.")),
        ],
    )
    submit = SubmitField(_l("Invite as co-author"))


class CommentForm(FlaskForm):
    body = TextAreaField(
        _l("Your comment"),
        validators=[
            DataRequired(message=_l("Write your comment.")),
            Length(max=5000, message=_l("Keep comments under 5,000 characters.")),
        ],
        description=_l("Markdown. Be kind; comments can be reported to the moderators."),
    )
    parent_id = HiddenField()
    submit = SubmitField(_l("Post comment"))


class ReportForm(FlaskForm):
    reason = StringField(_l("Why (optional)"), filters=[strip], validators=[Optional(), Length(max=300)])
    submit = SubmitField(_l("Report"))


class StatusForm(FlaskForm):
    status = RadioField(
        _l("Status"),
        validators=[DataRequired(message=_l("Choose a status."))],
        choices=[SelectChoice(s.value, label) for s, label in PROPOSAL_STATUS_LABELS.items()],
    )
    answer = TextAreaField(
        _l("Official answer"),
        validators=[
            DataRequired(message=_l("Give the official answer with the status.")),
            Length(max=10_000),
        ],
        description=_l("Public. Endorsers who asked for updates get it by email."),
    )
    duplicate_of = StringField(
        _l("Duplicate of (the other proposal's address or slug)"),
        filters=[strip],
        validators=[Optional(), Length(max=300)],
    )
    submit = SubmitField(_l("Set status"))
