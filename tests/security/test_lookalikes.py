"""Look-alike addresses (fullwidth letters, the ideographic full stop, an IDNA domain) are
one person: one support, one email, one count; the same block rules catch them."""

from __future__ import annotations

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Role, Support, Suspect, canonical_email
from campaign.services import abuse
from campaign.services import supports as support_service
from tests.factories import make_campaign, make_user

LOOKALIKES = (
    "alice@gmail.com",
    "alice@ｇｍａｉｌ.com",
    "alice@gmail。com",
    "ＡＬＩＣＥ@gmail.com",
    "a.lice+tag@GMAIL.com",
)


def test_lookalikes_share_one_canonical_email():
    assert {canonical_email(a) for a in LOOKALIKES} == {"alice@gmail.com"}
    assert canonical_email("x@bücher.de") == canonical_email("x@xn--bcher-kva.de") == "x@xn--bcher-kva.de"


def test_lookalikes_make_one_support_and_one_email(app, run_jobs, outbox):
    petition = make_campaign()
    for address in LOOKALIKES:
        support_service.add_support(petition.id, name="Alice", email=address, country="GB")
    assert len(db.session.execute(select(Support)).scalars().all()) == 1
    run_jobs()
    assert len(outbox()) <= support_service.MAX_CONFIRMATION_SENDS < len(LOOKALIKES)


def test_block_rules_catch_lookalikes(app):
    mod = make_user(role=Role.MODERATOR)
    abuse.add_rule("domain", "block", "spam.example", None, mod.id)
    abuse.add_rule("email", "block", "troll@example.org", None, mod.id)
    petition = make_campaign()
    held = [
        support_service.add_support(petition.id, name="X", email=address, country="GB")
        for address in ("x@ｓｐａｍ.example", "y@spam。example", "ｔroll@example.org")
    ]
    suspects = {db.session.get(Support, r.support_id).suspect for r in held}
    assert suspects == {Suspect.BLOCKED_DOMAIN.value, Suspect.BLOCKED_EMAIL.value}
