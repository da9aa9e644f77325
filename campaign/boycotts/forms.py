from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectChoice, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from campaign.campaigns.forms import TargetBrandForm


class BoycottForm(TargetBrandForm):
    demands = TextAreaField(
        _l("Demands"),
        validators=[
            DataRequired(message=_l("List what the brand must do to end the boycott.")),
            Length(max=3000, message=_l("Keep the demands under 3,000 characters.")),
        ],
        description=_l("One demand per line. The boycott ends when the brand meets them."),
    )

    scope = RadioField(
        _l("Who the boycott covers"),
        default="brand",
        choices=[
            SelectChoice("brand", _l("This brand only")),
            SelectChoice("group", _l("The whole group: every brand it owns, through the ownership tree")),
        ],
    )

    def validate_demands(self, field):
        lines = [line for line in field.data.splitlines() if line.strip()]
        if len(lines) > 10:
            raise ValidationError(_("Ten demands at most: focus wins campaigns."))

    def campaign_data(self) -> dict:
        lines = [line.strip() for line in self.demands.data.splitlines() if line.strip()]
        return {
            **super().campaign_data(),
            "demands": "\n".join(lines),
            "group_scope": self.scope.data == "group",
        }

    def fill_from(self, campaign) -> None:
        super().fill_from(campaign)
        self.demands.data = campaign.demands
        self.scope.data = "group" if campaign.group_scope else "brand"
