"""The one support form every kind uses, in its own words."""

from __future__ import annotations

from datetime import UTC

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
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
    Email,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget, Select, html_params

from campaign.auth.forms import single_line, strip
from campaign.i18n import COUNTRY_NAMES, CountryNames
from campaign.kinds import kind_of
from campaign.names import name_problem

COUNTRY_CHOICES = [SelectChoice("", _l("Choose your country…"))] + [
    SelectChoice(code, name) for code, name in sorted(COUNTRY_NAMES.items(), key=lambda i: i[1])
]


def country_choices() -> list[SelectChoice]:
    """The country list in the visitor's language, sorted as they would read it (made once
    per language: every support form asks for it)."""
    locale = _locale()
    choices = _choices_by_locale.get(locale)
    if choices is None:
        choices = [SelectChoice("", _("Choose your country…"))] + [
            SelectChoice(code, name) for code, name in CountryNames(COUNTRY_NAMES).choices()
        ]
        _choices_by_locale[locale] = choices
    return choices


_choices_by_locale: dict[str, list[SelectChoice]] = {}
_COUNTRY_VALUES = frozenset(c.value for c in COUNTRY_CHOICES)


def _locale() -> str:
    return str(get_locale())


class CountrySelect(Select):
    """The country ``<select>``, its options rendered once per language.

    Rendering 250 options through WTForms on every page view was a third of the campaign
    page's time; they never change, so each process renders them once per language and
    marks the chosen one (if any) in the rendered text.
    """

    _rendered: dict[tuple, str] = {}

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        if field.flags.required and "required" not in kwargs:
            kwargs["required"] = True
        key = (_locale(), tuple(c.value for c in field.choices))
        options = self._rendered.get(key)
        if options is None:
            options = "".join(
                f"<option {html_params(value=c.value)}>{escape(c.label or c.value)}</option>"
                for c in field.choices
            )
            self._rendered[key] = options
        if field.data is not None:
            plain = f'<option value="{escape(field.data)}">'
            options = options.replace(plain, f'<option selected value="{escape(field.data)}">', 1)
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")


class CountryField(SelectField):
    """A country code from the list, checked against a set rather than a scan of 250. Its
    choices are the list in the visitor's language, made once per language: given to
    WTForms as ``choices=``, each form would check all 250 for deprecated shapes and copy
    them."""

    widget = CountrySelect()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.choices = country_choices()  # the setter keeps the shared list as it is

    def pre_validate(self, form):
        if self.data not in _COUNTRY_VALUES:
            raise ValidationError(_("Choose your country from the list."))


class SupportForm(FlaskForm):
    name = StringField(
        _l("Your name"),
        filters=[single_line],
        validators=[
            DataRequired(message=_l("Tell us your name.")),
            Length(max=100, message=_l("Keep your name under 100 characters.")),
        ],
    )
    email = EmailField(
        _l("Email"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Enter your email address.")),
            Email(message=_l("Enter an email address like name@example.org.")),
            Length(max=254, message=_l("That email address is too long.")),
        ],
        description=_l("We send a link to confirm; it is never shown to anyone."),
    )

    def validate_name(self, field):
        problem = name_problem(field.data or "")
        if problem:
            raise ValidationError(problem)

    country = CountryField(
        _l("Country"),
        validators=[DataRequired(message=_l("Choose your country from the list."))],
    )
    postcode = StringField(
        _l("Postcode (optional)"),
        filters=[strip],
        validators=[
            Optional(),
            Length(max=16, message=_l("Postcodes are at most 16 characters.")),
            Regexp(
                r"^[A-Za-z0-9 \-]+$", message=_l("Postcodes have only letters, digits, spaces and dashes.")
            ),
        ],
    )
    comment = TextAreaField(
        _l("Why I support this (optional)"),
        filters=[strip],
        validators=[Optional(), Length(max=500, message=_l("Keep your reason under 500 characters."))],
    )
    monthly_spend = IntegerField(
        _l("About how much do you spend with them a month? (optional, €)"),
        validators=[
            Optional(),
            NumberRange(min=0, max=100_000, message=_l("Enter a whole number of euros from 0 to 100,000.")),
        ],
        description=_l("Only ever shown added up with everyone else’s."),
    )
    condition_threshold = IntegerField(
        _l("Only once this many people have pledged (optional)"),
        validators=[
            Optional(),
            NumberRange(min=2, max=1_000_000, message=_l("Enter a number from 2 to 1,000,000.")),
        ],
        description=_l(
            "A conditional pledge: you stop buying when the boycott has this many "
            "pledges, and we tell you when it does."
        ),
    )
    pledged_brands = SelectMultipleField(
        _l("Which of these brands will you buy from?"),
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[DataRequired(message=_l("Choose at least one brand you will buy from."))],
    )
    is_public = BooleanField(_l("Show my name on the campaign"), default=True)
    consents_to_updates = BooleanField(
        _l("Email me about this campaign’s progress (at most one update a day; stop any time)")
    )
    submit = SubmitField(_l("Sign"))

    @classmethod
    def for_campaign(cls, campaign, *, shown: bool = True, **kwargs) -> SupportForm:
        """The form in the words of ``campaign`` (or of its terms), asking only what its kind
        needs: spend for boycotts and buycotts, a condition for boycotts, the brands for
        buycotts. ``kwargs`` go to the form (``meta``…). ``shown=False``: a form that is only
        validated, never rendered (the sign lane's), without its button.

        Each kind has a class of its own without the fields it does not ask, made once per
        process: a form binds only its own fields, instead of all of them and then deleting
        some (the sign form's POST builds one for every signature).
        """
        kind = kind_of(campaign)
        form_class = _FORMS_BY_KIND.get((cls, kind.name, shown))
        if form_class is None:
            unasked = {name: None for name, asks in _ASKED_BY.items() if not getattr(kind, asks)}
            if not shown:
                unasked["submit"] = None
            form_class = type(f"{kind.name.title()}{cls.__name__}", (cls,), unasked)
            _FORMS_BY_KIND[(cls, kind.name, shown)] = form_class
        form = form_class(**kwargs)
        if shown:
            form.submit.label.text = kind.support_verb
        if kind.endorses_brands:
            form.pledged_brands.choices = [
                SelectChoice(e.brand_id, e.brand.name) for e in campaign.endorsements
            ]
            if not form.is_submitted():
                form.pledged_brands.data = [e.brand_id for e in campaign.endorsements]
        return form

    def support_data(self) -> dict:
        data = {
            "name": self.name.data,
            "email": self.email.data,
            "country": self.country.data,
            "postcode": self.postcode.data,
            "comment": self.comment.data,
            "is_public": self.is_public.data,
            "consents_to_updates": self.consents_to_updates.data,
        }
        if "monthly_spend" in self:
            data["monthly_spend"] = self.monthly_spend.data
        if "condition_threshold" in self:
            data["condition_threshold"] = self.condition_threshold.data
        if "pledged_brands" in self:
            data["pledged_brand_ids"] = self.pledged_brands.data
        return data


#: The fields only some kinds ask, each with the rule of a kind's definition that asks it.
_ASKED_BY = {
    "monthly_spend": "takes_spend",
    "condition_threshold": "takes_conditions",
    "pledged_brands": "endorses_brands",
}
_FORMS_BY_KIND: dict[tuple[type, str, bool], type] = {}


class RaiseGoalForm(FlaskForm):
    goal = IntegerField(
        _l("New goal"),
        validators=[
            DataRequired(message=_l("Enter the new goal.")),
            NumberRange(min=10, max=100_000_000, message=_l("Goals run from 10 to 100,000,000.")),
        ],
    )
    submit = SubmitField(_l("Raise the goal"))


class UpdateForm(FlaskForm):
    title = StringField(
        _l("Title"),
        filters=[single_line],
        validators=[
            DataRequired(message=_l("Give your update a title.")),
            Length(max=150, message=_l("Keep the title under 150 characters.")),
        ],
    )
    body = TextAreaField(
        _l("Update"),
        validators=[
            DataRequired(message=_l("Write the update.")),
            Length(max=10_000, message=_l("Keep the update under 10,000 characters.")),
        ],
        description=_l("Markdown. Supporters who asked for updates get it by email, at most one a day."),
    )
    submit = SubmitField(_l("Post update"))


class VictoryForm(FlaskForm):
    story = TextAreaField(
        _l("What changed"),
        validators=[
            DataRequired(message=_l("Tell supporters what changed.")),
            Length(min=20, max=10_000, message=_l("Write at least a few sentences (20 characters or more).")),
        ],
        description=_l("Shown on the Victories page and emailed to supporters who asked for updates."),
    )
    submit = SubmitField(_l("Declare victory"))


class StallForm(FlaskForm):
    """A stall: a place, a volunteer, a start and a few hours."""

    place = StringField(
        _l("Where"),
        filters=[single_line],
        validators=[
            DataRequired(message=_l("Say where the stall is.")),
            Length(max=120, message=_l("Keep the place under 120 characters.")),
        ],
        description=_l("For example: Saturday market, Main Square."),
    )
    volunteer = StringField(
        _l("Volunteer in charge"),
        filters=[single_line],
        validators=[
            DataRequired(message=_l("Name the volunteer who runs the stall.")),
            Length(max=100, message=_l("Keep the name under 100 characters.")),
        ],
    )
    opens_at = DateTimeLocalField(
        _l("Starts (UTC; empty: now)"),
        validators=[Optional()],
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    hours = IntegerField(
        _l("For how many hours"),
        default=4,
        validators=[
            DataRequired(message=_l("Say for how many hours.")),
            NumberRange(min=1, max=12, message=_l("A stall stays open from 1 to 12 hours.")),
        ],
    )
    submit = SubmitField(_l("Open the stall"))

    def opens_at_utc(self):
        return self.opens_at.data.replace(tzinfo=UTC) if self.opens_at.data else None
