"""A supporter's name is a name: links, email addresses, phone numbers and spreadsheet
formulas are refused with a clear message, and nothing is stored."""

from __future__ import annotations

import pytest

from campaign.extensions import db
from campaign.models import Support
from campaign.services import ServiceError
from campaign.services import supports as support_service
from tests.factories import make_campaign
from tests.helpers import post_form

REFUSED = {
    "Visit evil.example.com now": "no link, email address or phone number",
    "https://evil.example": "no link, email address or phone number",
    "www.evil": "no link, email address or phone number",
    "write to me at ada@example.org": "no link, email address or phone number",
    "URGENT call 555 0100": "no link, email address or phone number",
    "+44 7700 900123": "cannot start with =, +, - or @",
    '=HYPERLINK("http://x")': "cannot start with =, +, - or @",
    "-2+3": "cannot start with =, +, - or @",
    "@ada": "cannot start with =, +, - or @",
}


@pytest.mark.parametrize(("name", "message"), sorted(REFUSED.items()))
def test_a_name_that_is_not_a_name_is_refused(client, name, message):
    petition = make_campaign()
    page = f"/petitions/{petition.slug}"
    response = post_form(
        client, f"{page}/support", {"name": name, "email": "ada@example.org", "country": "GB"}, page=page
    )
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    with pytest.raises(ServiceError, match=message.split(",")[0]):
        support_service.add_support(petition.id, name=name, email="ada@example.org", country="GB")
    assert db.session.query(Support).count() == 0


def test_real_names_pass(app):
    petition = make_campaign()
    for n, name in enumerate(
        [
            "Ada Lovelace",
            "J.R.R. Tolkien",
            "María-José O'Neil",
            "Louis XIV",
            "Ng Wai-ling",
            "Supporter surge 123456",
        ]
    ):
        support_service.add_support(petition.id, name=name, email=f"p{n}@example.org", country="GB")
    assert db.session.query(Support).count() == 6
