from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, RadioField, SelectChoice, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from campaign.auth.forms import strip
from campaign.models import STANCE_LABELS


class AnswerForm(FlaskForm):
    author_name = StringField(
        _l("Your name and role"),
        filters=[strip],
        validators=[DataRequired(message=_l("Say who is answering.")), Length(max=120)],
        description=_l("Shown with the answer, e.g. “Sam Lee, Head of Sourcing”."),
    )
    stance = RadioField(
        _l("The brand’s position"),
        validators=[DataRequired(message=_l("Choose the brand's position."))],
        choices=[SelectChoice(s.value, label) for s, label in STANCE_LABELS.items()],
    )
    body = TextAreaField(
        _l("The answer"),
        validators=[
            DataRequired(message=_l("Write the answer.")),
            Length(max=10_000, message=_l("Keep the answer under 10,000 characters.")),
        ],
        description=_l("Public, shown on the campaign page. Markdown."),
    )
    commitment = TextAreaField(
        _l("What the brand commits to"),
        validators=[Optional(), Length(max=2000)],
        description=_l("Needed when the brand commits, fully or partly."),
    )
    commitment_due = DateField(_l("By when"), validators=[Optional()])
    submit = SubmitField(_l("Publish the answer"))


class VerifyForm(FlaskForm):
    class Meta:
        csrf = False  # a read-only check, submitted by GET

    digest = StringField(
        _l("Package digest (SHA-256)"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Paste the digest from the delivery email.")),
            Length(min=64, max=64, message=_l("A digest is 64 hexadecimal characters.")),
        ],
    )
    seal = StringField(
        _l("Seal"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Paste the seal from the delivery email.")),
            Length(min=64, max=64, message=_l("A seal is 64 hexadecimal characters.")),
        ],
    )
    submit = SubmitField(_l("Check"))


class VerifyFileForm(FlaskForm):
    package_file = FileField(
        _l("Or check a file of the package (the PDF or the CSV)"),
        validators=[FileRequired(message=_l("Choose the file to check."))],
    )
    submit = SubmitField(_l("Check the file"))
