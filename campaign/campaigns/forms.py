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
    SelectMultipleField,
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
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from campaign.auth.forms import single_line
from campaign.extensions import db
from campaign.i18n import current_language
from campaign.models import Brand, Topic, utcnow
from campaign.search import find_brands

#: Languages a campaign may be written in, named in their own language.
LANGUAGE_CHOICES = [SelectChoice("en", "English"), SelectChoice("es", "Español")]
#: Topics a campaign may have at most.
MAX_TOPICS = 3


def brand_choices() -> list[SelectChoice]:
    brands = db.session.execute(
        db.select(Brand.id, Brand.name).where(Brand.approved_at.is_not(None)).order_by(Brand.name)
    ).all()
    return [SelectChoice(brand.id, brand.name) for brand in brands]


def _current_language() -> str:
    return current_language()


class CampaignForm(FlaskForm):
    title = StringField(
        _l("Title"),
        filters=[single_line],
        validators=[
            DataRequired(message=_l("Give your campaign a title.")),
            Length(min=10, max=150, message=_l("Titles are 10 to 150 characters.")),
        ],
        description=_l("Say what you want, in a line people will share."),
    )
    summary = StringField(
        _l("Summary"),
        filters=[single_line],
        validators=[
            DataRequired(message=_l("Write a one-sentence summary.")),
            Length(max=300, message=_l("Keep the summary under 300 characters.")),
        ],
        description=_l("One sentence, shown on cards and in search results."),
    )
    body = TextAreaField(
        _l("The full story"),
        validators=[
            DataRequired(message=_l("Tell supporters why this matters.")),
            Length(max=20000, message=_l("Keep the story under 20,000 characters.")),
        ],
        description=_l("Markdown: **bold**, *italic*, [links](https://example.org), lists."),
    )
    language = SelectField(
        _l("Written in"),
        choices=LANGUAGE_CHOICES,
        default=_current_language,
        validators=[DataRequired(message=_l("Choose the language the campaign is written in."))],
        description=_l("Search finds every form of its words in this language."),
    )
    topics = SelectMultipleField(
        _l("Topics (up to three)"),
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[Optional()],
        description=_l("People browsing a topic find your campaign there."),
    )
    goal = IntegerField(
        _l("Goal"),
        default=1000,
        validators=[
            InputRequired(message=_l("Set a goal: how many supporters do you need?")),
            NumberRange(min=10, max=100_000_000, message=_l("Goals run from 10 to 100,000,000.")),
        ],
    )
    closes_on = DateField(
        _l("Closing date (optional)"),
        validators=[Optional()],
        description=_l("Leave empty to keep it open until you close it."),
    )
    answer_by = DateField(
        _l("Ask the brand to answer by (optional)"),
        validators=[Optional()],
        description=_l(
            "Past this date without an answer you can escalate: a "
            "proposal to a petition, a petition to a boycott."
        ),
    )
    submit = SubmitField(_l("Save draft"))

    def validate_topics(self, field):
        if len(field.data or []) > MAX_TOPICS:
            raise ValidationError(_("Choose up to three topics."))

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
            "answer_deadline": (self.closes_at_from(self.answer_by.data) if self.answer_by.data else None),
            "language": self.language.data,
            "topic_ids": list(self.topics.data or []),
        }

    def fill_from(self, campaign) -> None:
        """Prefill the fields from ``campaign`` for an edit page."""
        self.title.data = campaign.title
        self.summary.data = campaign.summary
        self.body.data = campaign.body
        self.goal.data = campaign.goal
        self.closes_on.data = campaign.closes_at.date() if campaign.closes_at else None
        self.answer_by.data = campaign.answer_deadline.date() if campaign.answer_deadline else None
        self.language.data = campaign.language
        self.topics.data = [t.id for t in campaign.topics]

    def prepare(self) -> None:
        """Load choices that come from the database (called before validation)."""
        topics = db.session.execute(db.select(Topic).order_by(Topic.name)).scalars()
        self.topics.choices = [SelectChoice(t.id, t.label()) for t in topics]


class TargetBrandForm(CampaignForm):
    """A campaign addressed to one brand: petitions, boycotts and proposals.

    The brand is found by typing its name. With script, a list of matches offers each brand
    and fills ``target_brand_id``; without, the name typed is looked up on submit: one
    brand called that is chosen, otherwise the form comes back listing the brands like it.
    """

    brand_name = StringField(
        _l("Brand"),
        filters=[single_line],
        validators=[Length(max=120, message=_l("Brand names are at most 120 characters."))],
        description=_l("Type the brand's name, then choose it from the list."),
    )
    target_brand_id = IntegerField(widget=HiddenInput(), validators=[Optional()])
    # A radio button among the brands listed after a name that matched none exactly.
    brand_choice = IntegerField(validators=[Optional()])

    #: Brands like the name typed, when it named none (the form lists them to choose from).
    brand_matches: list[Brand] = []
    chosen_brand: Brand | None = None

    def validate_brand_name(self, field):
        self.brand_matches = []
        typed = (field.data or "").strip()

        def approved(brand_id):
            valid = brand_id is not None and 0 < brand_id < 2**31  # an id, not any number
            brand = db.session.get(Brand, brand_id) if valid else None
            return brand if brand is not None and brand.approved_at is not None else None

        brand = approved(self.brand_choice.data)
        if brand is None:
            # Chosen from the script's list, or the brand of the draft being edited: kept
            # while the name shown is still its name.
            brand = approved(self.target_brand_id.data)
            if brand is not None and typed and typed.lower() != brand.name.lower():
                brand = None
        if brand is None and typed:
            brand = (
                db.session.execute(
                    db.select(Brand)
                    .where(Brand.approved_at.is_not(None), db.func.lower(Brand.name) == typed.lower())
                    .order_by(Brand.id)
                    .limit(2)
                )
                .scalars()
                .all()
            )
            brand = brand[0] if len(brand) == 1 else None
        if brand is not None:
            self.chosen_brand = brand
            self.target_brand_id.data = brand.id
            field.data = brand.name
            return
        self.target_brand_id.data = None
        if not typed:
            raise ValidationError(_("Choose the brand this is addressed to."))
        self.brand_matches = find_brands(typed)
        if self.brand_matches:
            raise ValidationError(_("Choose which brand you mean from the list below."))
        raise ValidationError(
            _("No brand is called “%(name)s”. Check the spelling, or suggest the brand.", name=typed)
        )

    def campaign_data(self) -> dict:
        return {**super().campaign_data(), "target_brand_id": self.target_brand_id.data}

    def fill_from(self, campaign) -> None:
        super().fill_from(campaign)
        self.target_brand_id.data = campaign.target_brand_id
        self.brand_name.data = campaign.target_brand.name if campaign.target_brand else ""
