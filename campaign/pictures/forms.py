"""The picture upload form (the file is checked by campaign.media, not here)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from campaign.auth.forms import single_line


class PictureForm(FlaskForm):
    picture = FileField(_l("Picture (JPEG, PNG or WebP, up to 10 MB)"))
    alt = StringField(
        _l("Describe the picture for people who cannot see it"),
        filters=[single_line],
        validators=[
            DataRequired(_l("Describe the picture for people who cannot see it (alt text).")),
            Length(max=300),
        ],
    )
