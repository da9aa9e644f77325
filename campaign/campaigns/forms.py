"""The form every campaign shares; each kind's package adds its own fields."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from campaign.auth.forms import single_line
from campaign.extensions import db
from campaign.models import Brand, utcnow


def brand_choices() -> list[SelectChoice]:
    brands = db.session.execute(db.select(Brand.id, Brand.name)
                                .where(Brand.approved_at.is_not(None)).order_by(Brand.name)).all()
    return [SelectChoice(brand.id, brand.name) for brand in brands]


class CampaignForm(FlaskForm):
    title = StringField(_l("Title"), filters=[single_line], validators=[
        DataRequired(message=_l("Give your campaign a title.")),
        Length(min=10, max=150, message=_l("Titles are 10 to 150 characters."))],
        description=_l("Say what you want, in a line people will share."))
    summary = StringField(_l("Summary"), filters=[single_line], validators=[
        DataRequired(message=_l("Write a one-sentence summary.")),
        Length(max=300, message=_l("Keep the summary under 300 characters."))],
        description=_l("One sentence, shown on cards and in search results."))
    body = TextAreaField(_l("The full story"), validators=[
        DataRequired(message=_l("Tell supporters why this matters.")),
        Length(max=20000, message=_l("Keep the story under 20,000 characters."))],
        description=_l("Markdown: **bold**, *italic*, [links](https://example.org), lists."))
    goal = IntegerField(_l("Goal"), default=1000, validators=[
        InputRequired(message=_l("Set a goal: how many supporters do you need?")),
        NumberRange(min=10, max=100_000_000, message=_l("Goals run from 10 to 100,000,000."))])
    closes_on = DateField(_l("Closing date (optional)"), validators=[Optional()],
                          description=_l("Leave empty to keep it open until you close it."))
    answer_by = DateField(_l("Ask the brand to answer by (optional)"), validators=[Optional()],
                          description=_l("Past this date without an answer you can escalate: a "
                                      "proposal to a petition, a petition to a boycott."))
    submit = SubmitField(_l("Save draft"))

    def validate_closes_on(self, field):
        if field.data and self.closes_at_from(field.data) <= utcnow():
            raise ValidationError(_("Choose a closing date in the future."))

    def validate_answer_by(self, field):
        if field.data and self.closes_at_from(field.data) <= utcnow():
            raise ValidationError(_("Choose an answer date in the future."))

    @staticmethod
    def closes_at_from(day) -> datetime:
        # Closing happens at the end of the chosen day, in UTC.
        return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)

    def campaign_data(self) -> dict:
        """The validated values, named as the service expects."""
        return {
            "title": self.title.data.strip(),
            "summary": self.summary.data.strip(),
            "body": self.body.data,
            "goal": self.goal.data,
            "closes_at": self.closes_at_from(self.closes_on.data) if self.closes_on.data else None,
            "answer_deadline": (self.closes_at_from(self.answer_by.data)
                                if self.answer_by.data else None),
        }

    def fill_from(self, campaign) -> None:
        """Prefill the fields from ``campaign`` for an edit page."""
        self.title.data = campaign.title
        self.summary.data = campaign.summary
        self.body.data = campaign.body
        self.goal.data = campaign.goal
        self.closes_on.data = campaign.closes_at.date() if campaign.closes_at else None
        self.answer_by.data = (campaign.answer_deadline.date()
                               if campaign.answer_deadline else None)

    def prepare(self) -> None:
        """Load choices that come from the database (called before validation)."""


class TargetBrandForm(CampaignForm):
    """A campaign addressed to one brand: petitions, boycotts and proposals."""

    target_brand_id = SelectField(_l("Brand"), coerce=int, validators=[
        DataRequired(message=_l("Choose the brand this is addressed to."))])

    def prepare(self) -> None:
        self.target_brand_id.choices = [SelectChoice(0, _l("Choose a brand…")), *brand_choices()]

    def campaign_data(self) -> dict:
        return {**super().campaign_data(), "target_brand_id": self.target_brand_id.data}

    def fill_from(self, campaign) -> None:
        super().fill_from(campaign)
        self.target_brand_id.data = campaign.target_brand_id
