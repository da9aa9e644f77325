from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from campaign.campaigns.forms import CampaignForm, brand_choices
from campaign.models import utcnow


class BuycottForm(CampaignForm):
    endorsed_brands = SelectMultipleField(
        _l("Brands to buy from"),
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[DataRequired(message=_l("Choose at least one brand to endorse."))],
    )
    reason = StringField(
        _l("Why these brands"),
        validators=[
            DataRequired(message=_l("Say why these brands deserve support.")),
            Length(max=300, message=_l("Keep the reason under 300 characters.")),
        ],
        description=_l("A practice or certification, e.g. “Pays a living wage, certified B Corp”."),
    )

    evidence_on = DateField(
        _l("Date of the evidence (optional)"),
        validators=[Optional()],
        description=_l("Endorsements are due for review a year after this."),
    )

    def validate_evidence_on(self, field):
        if field.data and field.data > utcnow().date():
            raise ValidationError(_("Evidence cannot be dated in the future."))

    def prepare(self) -> None:
        super().prepare()
        self.endorsed_brands.choices = brand_choices()

    def campaign_data(self) -> dict:
        reason = self.reason.data.strip()
        return {
            **super().campaign_data(),
            "endorsements": [(brand_id, reason) for brand_id in self.endorsed_brands.data],
            "evidence_on": self.evidence_on.data,
        }

    def fill_from(self, campaign) -> None:
        super().fill_from(campaign)
        self.endorsed_brands.data = [e.brand_id for e in campaign.endorsements]
        self.reason.data = campaign.endorsements[0].reason if campaign.endorsements else ""
        self.evidence_on.data = campaign.endorsements[0].evidence_on if campaign.endorsements else None
