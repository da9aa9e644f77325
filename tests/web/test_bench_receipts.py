"""The bench's account of a missing email: what the app's receipts say of it."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import insert

from bench.scenarios import Bench
from campaign.extensions import db
from campaign.models import MailReceipt
from campaign.models.base import utcnow


def test_the_bench_reads_what_the_app_recorded_of_each_missing_email(app):
    """A recipient the sink never saw is told apart: the server took it (sent), refused it,
    it was claimed and never marked (a worker died mid-batch), or it was never claimed."""
    db.session.add_all(
        [
            MailReceipt(key="k1", recipient="sent@bench.example", sent_at=utcnow()),
            MailReceipt(key="k2", recipient="refused@bench.example", error="550 no such user"),
        ]
    )
    # As a batch claims its receipts: not sent yet (the model's default would say sent).
    db.session.execute(
        insert(MailReceipt).values(
            key="k3", recipient="claimed@bench.example", sent_at=None, claimed_at=utcnow()
        )
    )
    db.session.commit()
    asked = ["sent@bench.example", "refused@bench.example", "claimed@bench.example", "never@bench.example"]
    assert Bench.receipts_of(SimpleNamespace(db=db), asked) == {
        "sent@bench.example": ["sent"],
        "refused@bench.example": ["refused: 550 no such user"],
        "claimed@bench.example": ["claimed, not marked"],
        "never@bench.example": [],
    }
    assert Bench.receipts_of(SimpleNamespace(db=db), []) == {}
