from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, RadioField, SelectChoice, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from campaign.auth.forms import strip
from campaign.campaigns.forms import TargetBrandForm
from campaign.models import PROPOSAL_STATUS_LABELS


class ProposalForm(TargetBrandForm):
    """A proposal is an idea for one brand; the story carries the idea itself."""


class InviteCoauthorForm(FlaskForm):
    email = EmailField("Their Groundswell account email", filters=[strip], validators=[
        DataRequired(message="Enter the member's email address."),
        Email(message="Enter an email address like name@example.org.")])
    submit = SubmitField("Invite as co-author")


class CommentForm(FlaskForm):
    body = TextAreaField("Your comment", validators=[
        DataRequired(message="Write your comment."),
        Length(max=5000, message="Keep comments under 5,000 characters.")],
        description="Markdown. Be kind; comments can be reported to the moderators.")
    parent_id = HiddenField()
    submit = SubmitField("Post comment")


class ReportForm(FlaskForm):
    reason = StringField("Why (optional)", filters=[strip], validators=[Optional(), Length(max=300)])
    submit = SubmitField("Report")


class StatusForm(FlaskForm):
    status = RadioField("Status", validators=[DataRequired(message="Choose a status.")],
                        choices=[SelectChoice(s.value, label)
                                 for s, label in PROPOSAL_STATUS_LABELS.items()])
    answer = TextAreaField("Official answer", validators=[
        DataRequired(message="Give the official answer with the status."),
        Length(max=10_000)],
        description="Public. Endorsers who asked for updates get it by email.")
    duplicate_of = StringField("Duplicate of (the other proposal's address or slug)",
                               filters=[strip], validators=[Optional(), Length(max=300)])
    submit = SubmitField("Set status")
