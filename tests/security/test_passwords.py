"""Passwords are checked against the common and breached passwords zxcvbn ships, not only
their length."""

from __future__ import annotations

import pytest

from campaign.extensions import db
from campaign.models import User
from tests.helpers import post_form


@pytest.mark.parametrize(
    "password",
    # The last is longer than zxcvbn takes (72): its first 72 are judged, not a 500.
    ["aaaaaaaaaa", "password123", "qwertyuiop", "1234567890", "iloveyou12", "ada@example.org", "0" * 73],
)
def test_common_or_guessable_passwords_are_refused(client, password):
    response = post_form(
        client,
        "/signup",
        {"name": "Ada", "email": "ada@example.org", "password": password, "confirm": password},
    )
    assert response.status_code == 400  # sent back with the reason
    assert "too common or too easy to guess" in response.get_data(as_text=True)
    assert db.session.query(User).count() == 0


@pytest.mark.parametrize("password", ["lantern orbit pebble", "lantern orbit pebble " * 5])
def test_a_good_passphrase_is_accepted(client, password):
    response = post_form(
        client,
        "/signup",
        {"name": "Ada", "email": "ada@example.org", "password": password, "confirm": password},
    )
    assert response.status_code == 302
    assert db.session.query(User).count() == 1
