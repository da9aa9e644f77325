"""The one support form every kind uses, in its own words."""

from __future__ import annotations

import pycountry
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from campaign.auth.forms import single_line, strip

COUNTRY_NAMES = {c.alpha_2: getattr(c, "common_name", c.name) for c in pycountry.countries}
COUNTRY_CHOICES = [SelectChoice("", "Choose your country…")] + [
    SelectChoice(code, name) for code, name in sorted(COUNTRY_NAMES.items(), key=lambda i: i[1])
]


class SupportForm(FlaskForm):
    name = StringField("Your name", filters=[single_line], validators=[
        DataRequired(message="Tell us your name."),
        Length(max=100, message="Keep your name under 100 characters.")])
    email = EmailField("Email", filters=[strip], validators=[
        DataRequired(message="Enter your email address."),
        Email(message="Enter an email address like name@example.org."),
        Length(max=254, message="That email address is too long.")],
        description="We send a link to confirm; it is never shown to anyone.")
    country = SelectField("Country", choices=COUNTRY_CHOICES,
                          validators=[DataRequired(message="Choose your country from the list.")],
                          validate_choice=True)
    postcode = StringField("Postcode (optional)", filters=[strip], validators=[
        Optional(), Length(max=16, message="Postcodes are at most 16 characters."),
        Regexp(r"^[A-Za-z0-9 \-]+$", message="Postcodes have only letters, digits, spaces and dashes.")])
    comment = TextAreaField("Why I support this (optional)", filters=[strip], validators=[
        Optional(), Length(max=500, message="Keep your reason under 500 characters.")])
    monthly_spend = IntegerField("About how much do you spend with them a month? (optional, €)",
                                 validators=[Optional(), NumberRange(
                                     min=0, max=100_000,
                                     message="Enter a whole number of euros from 0 to 100,000.")],
                                 description="Only ever shown added up with everyone else’s.")
    condition_threshold = IntegerField(
        "Only once this many people have pledged (optional)",
        validators=[Optional(), NumberRange(min=2, max=1_000_000,
                                            message="Enter a number from 2 to 1,000,000.")],
        description="A conditional pledge: you stop buying when the boycott has this many "
                    "pledges, and we tell you when it does.")
    pledged_brands = SelectMultipleField(
        "Which of these brands will you buy from?", coerce=int,
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        validators=[DataRequired(message="Choose at least one brand you will buy from.")])
    is_public = BooleanField("Show my name on the campaign", default=True)
    consents_to_updates = BooleanField("Email me about this campaign’s progress "
                                       "(at most one update a day; stop any time)")
    submit = SubmitField("Sign")

    def adapt_to(self, campaign) -> None:
        """Use the campaign's words; ask only what the kind needs (spend for boycotts and
        buycotts, a condition for boycotts, the brands for buycotts)."""
        self.submit.label.text = campaign.support_verb
        kind = campaign.kind.value
        if kind not in ("boycott", "buycott"):
            del self.monthly_spend
        if kind != "boycott":
            del self.condition_threshold
        if kind == "buycott":
            self.pledged_brands.choices = [SelectChoice(e.brand_id, e.brand.name)
                                           for e in campaign.endorsements]
            if not self.is_submitted():
                self.pledged_brands.data = [e.brand_id for e in campaign.endorsements]
        else:
            del self.pledged_brands

    def support_data(self) -> dict:
        data = {"name": self.name.data, "email": self.email.data, "country": self.country.data,
                "postcode": self.postcode.data, "comment": self.comment.data,
                "is_public": self.is_public.data,
                "consents_to_updates": self.consents_to_updates.data}
        if "monthly_spend" in self:
            data["monthly_spend"] = self.monthly_spend.data
        if "condition_threshold" in self:
            data["condition_threshold"] = self.condition_threshold.data
        if "pledged_brands" in self:
            data["pledged_brand_ids"] = self.pledged_brands.data
        return data


class RaiseGoalForm(FlaskForm):
    goal = IntegerField("New goal", validators=[
        DataRequired(message="Enter the new goal."),
        NumberRange(min=10, max=100_000_000, message="Goals run from 10 to 100,000,000.")])
    submit = SubmitField("Raise the goal")


class UpdateForm(FlaskForm):
    title = StringField("Title", filters=[single_line], validators=[
        DataRequired(message="Give your update a title."),
        Length(max=150, message="Keep the title under 150 characters.")])
    body = TextAreaField("Update", validators=[
        DataRequired(message="Write the update."),
        Length(max=10_000, message="Keep the update under 10,000 characters.")],
        description="Markdown. Supporters who asked for updates get it by email, at most one a day.")
    submit = SubmitField("Post update")


class VictoryForm(FlaskForm):
    story = TextAreaField("What changed", validators=[
        DataRequired(message="Tell supporters what changed."),
        Length(min=20, max=10_000, message="Write at least a few sentences (20 characters or more).")],
        description="Shown on the Victories page and emailed to supporters who asked for updates.")
    submit = SubmitField("Declare victory")
