from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, RadioField, SelectChoice, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from campaign.auth.forms import strip
from campaign.models import STANCE_LABELS


class AnswerForm(FlaskForm):
    author_name = StringField("Your name and role", filters=[strip], validators=[
        DataRequired(message="Say who is answering."), Length(max=120)],
        description="Shown with the answer, e.g. “Sam Lee, Head of Sourcing”.")
    stance = RadioField("The brand’s position", validators=[
        DataRequired(message="Choose the brand's position.")],
        choices=[SelectChoice(s.value, label) for s, label in STANCE_LABELS.items()])
    body = TextAreaField("The answer", validators=[
        DataRequired(message="Write the answer."),
        Length(max=10_000, message="Keep the answer under 10,000 characters.")],
        description="Public, shown on the campaign page. Markdown.")
    commitment = TextAreaField("What the brand commits to", validators=[
        Optional(), Length(max=2000)],
        description="Needed when the brand commits, fully or partly.")
    commitment_due = DateField("By when", validators=[Optional()])
    submit = SubmitField("Publish the answer")


class VerifyForm(FlaskForm):
    class Meta:
        csrf = False  # a read-only check, submitted by GET

    digest = StringField("Package digest (SHA-256)", filters=[strip], validators=[
        DataRequired(message="Paste the digest from the delivery email."),
        Length(min=64, max=64, message="A digest is 64 hexadecimal characters.")])
    seal = StringField("Seal", filters=[strip], validators=[
        DataRequired(message="Paste the seal from the delivery email."),
        Length(min=64, max=64, message="A seal is 64 hexadecimal characters.")])
    submit = SubmitField("Check")


class VerifyFileForm(FlaskForm):
    package_file = FileField("Or check a file of the package (the PDF or the CSV)",
                             validators=[FileRequired(message="Choose the file to check.")])
    submit = SubmitField("Check the file")
