from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from campaign.auth.forms import single_line
from campaign.models import SUSPECT_LABELS


class ApproveForm(FlaskForm):
    submit = SubmitField(_l("Approve and publish"))


class RejectForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for the organiser"),
        validators=[
            DataRequired(message=_l("Tell the organiser what to change.")),
            Length(max=2000, message=_l("Keep the reason under 2,000 characters.")),
        ],
        description=_l("The organiser sees this and can edit and resubmit."),
    )
    submit = SubmitField(_l("Send back to the organiser"))


class RemovePictureForm(FlaskForm):
    reason = TextAreaField(
        _l("Why the picture is removed (the organiser sees this)"),
        validators=[DataRequired(message=_l("Give the organiser a reason.")), Length(max=1000)],
    )
    submit = SubmitField(_l("Remove the picture"))


class RuleForm(FlaskForm):
    """A line of the allow or block lists."""

    # Radios, not selects: a long choice wraps on a phone, where a select cuts it off (the
    # Spanish block choice is wider than a select in a 390 px window).
    kind = RadioField(
        _l("What"),
        choices=[
            SelectChoice("ip", _l("IP address or range")),
            SelectChoice("domain", _l("Email domain")),
            SelectChoice("email", _l("Email address")),
        ],
        default="ip",
    )
    action = RadioField(
        _l("List"),
        choices=[
            SelectChoice("block", _l("Block: held, never counted")),
            SelectChoice("allow", _l("Allow: never held")),
        ],
        default="block",
    )
    value = StringField(
        _l("Value"),
        validators=[
            DataRequired(message=_l("Give the address, range, domain or email.")),
            Length(max=254, message=_l("Keep it under 254 characters.")),
        ],
        description=_l("203.0.113.7, 203.0.113.0/24, example.org (covers its subdomains) or a@example.org."),
    )
    note = StringField(
        _l("Note for moderators (optional)"),
        validators=[Optional(), Length(max=200, message=_l("Keep the note under 200 characters."))],
    )
    submit = SubmitField(_l("Add to the list"))


class InvalidationForm(FlaskForm):
    """Conditions of the supports a moderator invalidates; all given must hold."""

    #: The fields a link may fill in (a line of the report, a stall, a group of held ones).
    PREFILLED = ("campaign", "ip", "domain", "stall")

    campaign = StringField(
        _l("Campaign (its slug; empty: every campaign)"),
        validators=[Optional(), Length(max=140, message=_l("A slug is at most 140 characters."))],
    )
    ip = StringField(
        _l("IP address or range"),
        validators=[Optional(), Length(max=49, message=_l("An IP range is at most 49 characters."))],
    )
    domain = StringField(
        _l("Email domain (covers its subdomains)"),
        validators=[Optional(), Length(max=254, message=_l("A domain is at most 254 characters."))],
    )
    since = DateTimeLocalField(
        _l("Signed from (UTC)"), validators=[Optional()], format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
    )
    until = DateTimeLocalField(
        _l("Signed before (UTC)"), validators=[Optional()], format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
    )
    stall = StringField(
        _l("Stall (its number; empty: any)"),
        validators=[Optional(), Length(max=12, message=_l("A stall number is at most 12 digits."))],
    )
    reason = StringField(
        _l("Why (kept with the invalidation)"),
        validators=[Optional(), Length(max=200, message=_l("Keep the reason under 200 characters."))],
    )
    preview = SubmitField(_l("Preview"))
    confirm = SubmitField(_l("Invalidate them"))

    def more_conditions(self) -> dict:
        return {"stall": self.stall.data}

    def window(self) -> tuple[datetime | None, datetime | None]:
        """The time window as aware UTC instants (the fields say UTC)."""
        return tuple(f.data.replace(tzinfo=UTC) if f.data else None for f in (self.since, self.until))


class ReleaseForm(InvalidationForm):
    """Conditions of the held supports a moderator releases; all given must hold."""

    PREFILLED = ("campaign", "ip", "domain", "stall", "held_reason", "support")

    held_reason = SelectField(
        _l("Held because"),
        validators=[Optional()],
        choices=[SelectChoice("", _l("any reason but an invalidation"))]
        + [SelectChoice(s.value, label) for s, label in SUSPECT_LABELS.items()],
    )
    support = StringField(
        _l("One support (its number; empty: all that match)"),
        validators=[Optional(), Length(max=12, message=_l("A support number is at most 12 digits."))],
    )
    reason = StringField(
        _l("Why (kept with the release)"),
        validators=[Optional(), Length(max=200, message=_l("Keep the reason under 200 characters."))],
    )
    confirm = SubmitField(_l("Release them"))

    def more_conditions(self) -> dict:
        return {"stall": self.stall.data, "held_reason": self.held_reason.data, "support": self.support.data}


class TopicForm(FlaskForm):
    name = StringField(
        _l("Name in English"),
        filters=[single_line],
        validators=[
            DataRequired(message=_l("Name the topic.")),
            Length(max=60, message=_l("Topic names are at most 60 characters.")),
        ],
    )
    name_es = StringField(
        _l("Name in Spanish"),
        filters=[single_line],
        validators=[Optional(), Length(max=60, message=_l("Topic names are at most 60 characters."))],
    )
    submit = SubmitField(_l("Add topic"))
