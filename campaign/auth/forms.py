from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length


def strip(value):
    return value.strip() if isinstance(value, str) else value


def single_line(value):
    """Collapse line breaks and runs of spaces: such fields end up in email headers."""
    return " ".join(value.split()) if isinstance(value, str) else value


PASSWORD_RULES = [
    DataRequired(message="Choose a password."),
    Length(min=10, max=200, message="Use at least 10 characters."),
]


class SignupForm(FlaskForm):
    name = StringField("Your name", filters=[single_line], validators=[
        DataRequired(message="Tell us your name."), Length(max=100)])
    email = EmailField("Email", filters=[strip], validators=[
        DataRequired(message="Enter your email address."),
        Email(message="Enter an email address like name@example.org."), Length(max=254)])
    password = PasswordField("Password", validators=PASSWORD_RULES,
                             description="At least 10 characters.")
    confirm = PasswordField("Repeat the password", validators=[
        DataRequired(message="Repeat the password."),
        EqualTo("password", message="The two passwords differ.")])
    submit = SubmitField("Create account")


class LoginForm(FlaskForm):
    email = EmailField("Email", filters=[strip], validators=[
        DataRequired(message="Enter your email address."),
        Email(message="Enter an email address like name@example.org.")])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password.")])
    remember = BooleanField("Keep me logged in on this device")
    submit = SubmitField("Log in")


class EmailOnlyForm(FlaskForm):
    email = EmailField("Email", filters=[strip], validators=[
        DataRequired(message="Enter your email address."),
        Email(message="Enter an email address like name@example.org.")])
    submit = SubmitField("Send me a link")


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=PASSWORD_RULES,
                             description="At least 10 characters.")
    confirm = PasswordField("Repeat the new password", validators=[
        DataRequired(message="Repeat the password."),
        EqualTo("password", message="The two passwords differ.")])
    submit = SubmitField("Set new password")


class ActionForm(FlaskForm):
    """A form with nothing but its CSRF token, for buttons that POST."""

    submit = SubmitField("Go")
