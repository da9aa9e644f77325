from flask_babel import lazy_gettext as _l
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
    name = StringField(
        _l("Name"),
        filters=[single_line],
        validators=[DataRequired(message=_l("Give the brand's name.")), Length(max=120)],
    )
    parent_id = SelectField(_l("Owned by"), coerce=int, validators=[Optional()])
    website = URLField(
        _l("Website"),
        filters=[strip],
        validators=[
            Optional(),
            URL(message=_l("Enter a full web address, like https://brand.example.")),
            Length(max=300),
        ],
    )
    description = TextAreaField(_l("About"), validators=[Optional(), Length(max=2000)])
    contact_email = EmailField(
        _l("Contact address for deliveries"),
        filters=[strip],
        validators=[
            Optional(),
            Email(message=_l("Enter an email address like press@brand.example.")),
            Length(max=254),
        ],
    )
    email_domains = StringField(
        _l("Verified email domains"),
        filters=[strip],
        validators=[
            Optional(),
            Length(max=300),
            Regexp(
                r"^[a-z0-9.\-]+(\s*,\s*[a-z0-9.\-]+)*$",
                message=_l("List domains separated by commas, like brand.example, group.example."),
            ),
        ],
        description=_l("People with an address at one of these can claim the brand by email."),
    )
    submit = SubmitField(_l("Save brand"))


class SuggestBrandForm(FlaskForm):
    name = StringField(
        _l("Brand name"),
        filters=[single_line],
        validators=[DataRequired(message=_l("Give the brand's name.")), Length(max=120)],
    )
    parent_id = SelectField(_l("Owned by (if you know)"), coerce=int, validators=[Optional()])
    website = URLField(
        _l("Website"),
        filters=[strip],
        validators=[
            Optional(),
            URL(message=_l("Enter a full web address, like https://brand.example.")),
            Length(max=300),
        ],
    )
    description = TextAreaField(_l("What they sell"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Suggest this brand"))


class CertificationForm(FlaskForm):
    name = StringField(
        _l("Certification"),
        filters=[strip],
        validators=[DataRequired(message=_l("Name the certification.")), Length(max=120)],
    )
    issuer = StringField(
        _l("Issued by"),
        filters=[strip],
        validators=[DataRequired(message=_l("Say who issues it.")), Length(max=120)],
    )
    evidence_url = URLField(
        _l("Evidence (link)"),
        filters=[strip],
        validators=[Optional(), URL(message=_l("Enter a full web address.")), Length(max=300)],
    )
    expires_on = DateField(_l("Expires on"), validators=[Optional()])
    verified = BooleanField(_l("I checked the evidence: mark it verified"))
    submit = SubmitField(_l("Add certification"))


class ClaimForm(FlaskForm):
    title = StringField(
        _l("Your role at the brand"),
        filters=[strip],
        validators=[DataRequired(message=_l("Say what your role is.")), Length(max=120)],
    )
    work_email = EmailField(
        _l("Your work address (optional)"),
        filters=[strip],
        validators=[Optional(), Email(message=_l("Enter an email address like you@brand.example."))],
        description=_l(
            "An address at one of the brand's verified domains gets a link that "
            "verifies you at once. Leave it empty to ask a moderator."
        ),
    )
    submit = SubmitField(_l("Claim this brand"))
