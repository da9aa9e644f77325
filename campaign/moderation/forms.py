from datetime import UTC, datetime

from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional


class ApproveForm(FlaskForm):
    submit = SubmitField("Approve and publish")


class RejectForm(FlaskForm):
    reason = TextAreaField("Reason for the organiser", validators=[
        DataRequired(message="Tell the organiser what to change."),
        Length(max=2000, message="Keep the reason under 2,000 characters.")],
        description="The organiser sees this and can edit and resubmit.")
    submit = SubmitField("Send back to the organiser")


class RuleForm(FlaskForm):
    """A line of the allow or block lists."""

    kind = SelectField("What", choices=[SelectChoice("ip", "IP address or range"),
                                        SelectChoice("domain", "Email domain"),
                                        SelectChoice("email", "Email address")])
    action = SelectField("List", choices=[SelectChoice("block", "Block: held, never counted"),
                                          SelectChoice("allow", "Allow: never held")])
    value = StringField("Value", validators=[
        DataRequired(message="Give the address, range, domain or email."),
        Length(max=254, message="Keep it under 254 characters.")],
        description="203.0.113.7, 203.0.113.0/24, example.org (covers its subdomains) or a@example.org.")
    note = StringField("Note for moderators (optional)", validators=[
        Optional(), Length(max=200, message="Keep the note under 200 characters.")])
    submit = SubmitField("Add to the list")


class InvalidationForm(FlaskForm):
    """Conditions of the supports a moderator invalidates; all given must hold."""

    campaign = StringField("Campaign (its slug; empty: every campaign)", validators=[
        Optional(), Length(max=140, message="A slug is at most 140 characters.")])
    ip = StringField("IP address or range", validators=[
        Optional(), Length(max=49, message="An IP range is at most 49 characters.")])
    domain = StringField("Email domain (covers its subdomains)", validators=[
        Optional(), Length(max=254, message="A domain is at most 254 characters.")])
    since = DateTimeLocalField("Signed from (UTC)", validators=[Optional()],
                               format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])
    until = DateTimeLocalField("Signed before (UTC)", validators=[Optional()],
                               format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])
    reason = StringField("Why (kept with the invalidation)", validators=[
        Optional(), Length(max=200, message="Keep the reason under 200 characters.")])
    preview = SubmitField("Preview")
    confirm = SubmitField("Invalidate them")

    def window(self) -> tuple[datetime | None, datetime | None]:
        """The time window as aware UTC instants (the fields say UTC)."""
        return tuple(f.data.replace(tzinfo=UTC) if f.data else None
                     for f in (self.since, self.until))
