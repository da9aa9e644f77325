from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    URLField,
)
from wtforms.validators import URL, DataRequired, Email, Length, Optional, Regexp

from campaign.auth.forms import single_line, strip


class BrandForm(FlaskForm):
    name = StringField("Name", filters=[single_line], validators=[
        DataRequired(message="Give the brand's name."), Length(max=120)])
    parent_id = SelectField("Owned by", coerce=int, validators=[Optional()])
    website = URLField("Website", filters=[strip], validators=[
        Optional(), URL(message="Enter a full web address, like https://brand.example."),
        Length(max=300)])
    description = TextAreaField("About", validators=[Optional(), Length(max=2000)])
    contact_email = EmailField("Contact address for deliveries", filters=[strip], validators=[
        Optional(), Email(message="Enter an email address like press@brand.example."),
        Length(max=254)])
    email_domains = StringField("Verified email domains", filters=[strip], validators=[
        Optional(), Length(max=300),
        Regexp(r"^[a-z0-9.\-]+(\s*,\s*[a-z0-9.\-]+)*$",
               message="List domains separated by commas, like brand.example, group.example.")],
        description="People with an address at one of these can claim the brand by email.")
    submit = SubmitField("Save brand")


class SuggestBrandForm(FlaskForm):
    name = StringField("Brand name", filters=[single_line], validators=[
        DataRequired(message="Give the brand's name."), Length(max=120)])
    parent_id = SelectField("Owned by (if you know)", coerce=int, validators=[Optional()])
    website = URLField("Website", filters=[strip], validators=[
        Optional(), URL(message="Enter a full web address, like https://brand.example."),
        Length(max=300)])
    description = TextAreaField("What they sell", validators=[Optional(), Length(max=2000)])
    submit = SubmitField("Suggest this brand")


class CertificationForm(FlaskForm):
    name = StringField("Certification", filters=[strip], validators=[
        DataRequired(message="Name the certification."), Length(max=120)])
    issuer = StringField("Issued by", filters=[strip], validators=[
        DataRequired(message="Say who issues it."), Length(max=120)])
    evidence_url = URLField("Evidence (link)", filters=[strip], validators=[
        Optional(), URL(message="Enter a full web address."), Length(max=300)])
    expires_on = DateField("Expires on", validators=[Optional()])
    verified = BooleanField("I checked the evidence: mark it verified")
    submit = SubmitField("Add certification")


class ClaimForm(FlaskForm):
    title = StringField("Your role at the brand", filters=[strip], validators=[
        DataRequired(message="Say what your role is."), Length(max=120)])
    work_email = EmailField("Your work address (optional)", filters=[strip], validators=[
        Optional(), Email(message="Enter an email address like you@brand.example.")],
        description="An address at one of the brand's verified domains gets a link that "
                    "verifies you at once. Leave it empty to ask a moderator.")
    submit = SubmitField("Claim this brand")
