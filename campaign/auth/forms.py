from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError


def strip(value):
    return value.strip() if isinstance(value, str) else value


def single_line(value):
    """Collapse line breaks and runs of spaces: such fields end up in email headers."""
    return " ".join(value.split()) if isinstance(value, str) else value


def not_guessable(form, field):
    """Refuse a password found in lists of common and breached passwords, or as easy to
    guess (a repeat, a keyboard row, a word and a year), as zxcvbn (which ships those lists)
    estimates it, with the form's name and email counted as known to an attacker."""
    from zxcvbn import zxcvbn  # heavy: it loads its word lists on import, only when needed

    password = field.data or ""
    if len(password) < 10:
        return  # the length rule says so already
    known = [v for v in (getattr(form, "name", None), getattr(form, "email", None)) if v]
    # zxcvbn refuses more than 72 characters (a ValueError since 4.5): its first 72 are judged,
    # so a long repeat is still refused, and anything else that long is not guessable anyway.
    result = zxcvbn(password[:72], user_inputs=[str(f.data) for f in known if f.data])
    if result["score"] < MIN_PASSWORD_SCORE:
        raise ValidationError(
            _l("That password is too common or too easy to guess. Try a few unrelated words together.")
        )


#: zxcvbn's score (0-4) a password needs: 2 means "somewhat guessable" (about 10^8 guesses,
#: beyond a fast list of the million most common).
MIN_PASSWORD_SCORE = 2

PASSWORD_RULES = [
    DataRequired(message=_l("Choose a password.")),
    Length(min=10, max=200, message=_l("Use at least 10 characters.")),
    not_guessable,
]


class SignupForm(FlaskForm):
    name = StringField(
        _l("Your name"),
        filters=[single_line],
        validators=[DataRequired(message=_l("Tell us your name.")), Length(max=100)],
    )
    email = EmailField(
        _l("Email"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Enter your email address.")),
            Email(message=_l("Enter an email address like name@example.org.")),
            Length(max=254),
        ],
    )
    password = PasswordField(
        _l("Password"), validators=PASSWORD_RULES, description=_l("At least 10 characters.")
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[
            DataRequired(message=_l("Repeat the password.")),
            EqualTo("password", message=_l("The two passwords differ.")),
        ],
    )
    submit = SubmitField(_l("Create account"))


class LoginForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Enter your email address.")),
            Email(message=_l("Enter an email address like name@example.org.")),
        ],
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("Enter your password."))])
    remember = BooleanField(_l("Keep me logged in on this device"))
    submit = SubmitField(_l("Log in"))


class EmailOnlyForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Enter your email address.")),
            Email(message=_l("Enter an email address like name@example.org.")),
        ],
    )
    submit = SubmitField(_l("Send me a link"))


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"), validators=PASSWORD_RULES, description=_l("At least 10 characters.")
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[
            DataRequired(message=_l("Repeat the password.")),
            EqualTo("password", message=_l("The two passwords differ.")),
        ],
    )
    submit = SubmitField(_l("Set new password"))


class ActionForm(FlaskForm):
    """A form with nothing but its CSRF token, for buttons that POST."""

    submit = SubmitField(_l("Go"))
