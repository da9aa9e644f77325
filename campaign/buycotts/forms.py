from wtforms import SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from campaign.campaigns.forms import CampaignForm, brand_choices


class BuycottForm(CampaignForm):
    endorsed_brands = SelectMultipleField(
        "Brands to buy from", coerce=int,
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        validators=[DataRequired(message="Choose at least one brand to endorse.")])
    reason = StringField("Why these brands", validators=[
        DataRequired(message="Say why these brands deserve support."),
        Length(max=300, message="Keep the reason under 300 characters.")],
        description="A practice or certification, e.g. “Pays a living wage, certified B Corp”.")

    def prepare(self) -> None:
        self.endorsed_brands.choices = brand_choices()

    def campaign_data(self) -> dict:
        reason = self.reason.data.strip()
        return {**super().campaign_data(),
                "endorsements": [(brand_id, reason) for brand_id in self.endorsed_brands.data]}

    def fill_from(self, campaign) -> None:
        super().fill_from(campaign)
        self.endorsed_brands.data = [e.brand_id for e in campaign.endorsements]
        self.reason.data = campaign.endorsements[0].reason if campaign.endorsements else ""
