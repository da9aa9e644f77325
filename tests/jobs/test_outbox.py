"""Work named in a transaction is enqueued when it commits, once, and never if it rolls back."""

import pytest

from campaign import outbox
from campaign.extensions import db
from campaign.queue import get_queue


def _queued() -> list[str]:
    return sorted(get_queue("bulk").job_ids)


def test_work_is_enqueued_by_the_commit_and_discarded_by_a_rollback(app):
    outbox.later("notice", 1)
    outbox.later("notice", 1)  # named twice, enqueued once
    assert _queued() == []  # nothing before the commit
    db.session.commit()
    assert _queued() == ["notice-1"]

    outbox.later("notice", 2)
    db.session.rollback()
    db.session.commit()
    assert _queued() == ["notice-1"]

    outbox.later("notice", 3)
    savepoint = db.session.begin_nested()
    outbox.later("notice", 4)
    savepoint.rollback()  # only the savepoint's own work goes
    savepoint = db.session.begin_nested()
    outbox.later("notice", 5)
    savepoint.commit()
    assert _queued() == ["notice-1"]  # a released savepoint waits for the outer commit
    db.session.commit()
    assert _queued() == ["notice-1", "notice-3", "notice-5"]


def test_an_unknown_kind_of_work_is_refused(app):
    with pytest.raises(ValueError, match="no-such-work"):
        outbox.later("no-such-work", 1)
