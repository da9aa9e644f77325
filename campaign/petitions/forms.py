from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from campaign.campaigns.forms import TargetBrandForm


class PetitionForm(TargetBrandForm):
    demand = TextAreaField(
        _l("What you ask of the brand"),
        validators=[
            DataRequired(message=_l("State the demand the brand will receive.")),
            Length(max=1000, message=_l("Keep the demand under 1,000 characters.")),
        ],
        description=_l("One clear demand: this is what the brand receives with the signatures."),
    )

    def campaign_data(self) -> dict:
        return {**super().campaign_data(), "demand": self.demand.data.strip()}

    def fill_from(self, campaign) -> None:
        super().fill_from(campaign)
        self.demand.data = campaign.demand
