from flask_wtf import FlaskForm
from wtforms import SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length


class ApproveForm(FlaskForm):
    submit = SubmitField("Approve and publish")


class RejectForm(FlaskForm):
    reason = TextAreaField("Reason for the organiser", validators=[
        DataRequired(message="Tell the organiser what to change."),
        Length(max=2000, message="Keep the reason under 2,000 characters.")],
        description="The organiser sees this and can edit and resubmit.")
    submit = SubmitField("Send back to the organiser")
