"""Milestones are written once and notified once, however often their jobs run."""

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.jobs import notify
from campaign.jobs.counting import fold_counts_job
from campaign.jobs.notify import notify_milestone, send_batch
from campaign.jobs.sweeper import sweep_job
from campaign.models import EmailFrequency, Milestone, Support, utcnow
from campaign.queue import get_queue
from campaign.services import counting
from campaign.services import supports as service
from tests.factories import SupportFactory, every_other, make_campaign, make_user
from tests.helpers import body_text


def test_thresholds_crossed():
    assert counting.thresholds_crossed(0, 9, 500) == []
    assert counting.thresholds_crossed(9, 10, 500) == [(10, False)]
    assert counting.thresholds_crossed(5, 1200, 500) == [
        (10, False),
        (100, False),
        (500, True),
        (1000, False),
    ]
    assert counting.thresholds_crossed(90, 100, 100) == [(100, True)]  # goal on a threshold


def test_each_milestone_notifies_the_organiser_exactly_once(app, run_jobs, outbox):
    organiser = make_user("organiser@example.org", email_frequency=EmailFrequency.IMMEDIATELY)
    petition = make_campaign(organiser=organiser, goal=500)
    SupportFactory.create_batch(12, campaign=petition, consents_to_updates=every_other())
    run_jobs()  # fold → milestone 10 → notice
    milestones = db.session.execute(select(Milestone)).scalars().all()
    assert [(m.threshold, m.is_goal) for m in milestones] == [(10, False)]
    assert milestones[0].notified_at is not None
    to_organiser = [m for m in outbox() if m["To"] == organiser.email]
    assert len(to_organiser) == 1 and "10 signatures" in to_organiser[0]["Subject"]
    # The same job again, directly and through the queue: nothing more is sent.
    assert notify_milestone(milestones[0].id) is True
    get_queue("default").enqueue(notify_milestone, milestones[0].id)
    run_jobs()
    assert len([m for m in outbox() if m["To"] == organiser.email]) == 1
    # Withdrawals that dip under 10 and supports that climb back do not notify again.
    service.withdraw(db.session.execute(select(Support.id).limit(1)).scalar())
    service.withdraw(db.session.execute(select(Support.id).offset(1).limit(1)).scalar())
    service.withdraw(db.session.execute(select(Support.id).offset(2).limit(1)).scalar())
    run_jobs()
    SupportFactory.reset_sequence(100)
    SupportFactory.create_batch(3, campaign=petition, consents_to_updates=every_other())
    run_jobs()
    assert db.session.execute(select(Milestone)).scalars().all() == milestones
    assert len([m for m in outbox() if m["To"] == organiser.email]) == 1


def test_goal_reaches_consenting_supporters_in_batches_once(app, run_jobs, outbox, monkeypatch):
    monkeypatch.setattr("campaign.outbox.BATCH_SIZE", 3)
    organiser = make_user("organiser@example.org", email_frequency=EmailFrequency.IMMEDIATELY)
    petition = make_campaign(organiser=organiser, goal=10)
    # supporters 0, 2, 4, 6, 8, 10 consented
    SupportFactory.create_batch(11, campaign=petition, consents_to_updates=every_other())
    run_jobs()
    run_jobs()  # the batches enqueued by the fan-out
    goal = db.session.execute(select(Milestone).filter_by(is_goal=True)).scalar_one()
    assert goal.threshold == 10
    # (The delivery at the goal tells them too, in a notice of its own.)
    goal_mail = [m for m in outbox() if m["Subject"].startswith("We reached the goal")]
    to_supporters = sorted(m["To"] for m in goal_mail if m["To"].startswith("s"))
    assert to_supporters == sorted(f"s{i}@example.org" for i in (0, 2, 4, 6, 8, 10))
    organiser_mail = [m for m in outbox() if m["To"] == organiser.email]
    # The goal is also the threshold 10: one milestone, one notice.
    assert [m["Subject"] for m in organiser_mail] == [f"Goal reached: {petition.title}"]
    message = next(m for m in goal_mail if m["To"] == "s0@example.org")
    assert message["List-Unsubscribe"].startswith("<http://groundswell.test/supports/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "asked for updates" in body_text(message)
    # Every batch run again sends nothing twice.
    ids = db.session.execute(select(Support.id).order_by(Support.id)).scalars().all()
    assert send_batch("goal", goal.id, ids[0], ids[-1]) == 0
    before = len(outbox())
    notify.fan_out("goal", goal.id, petition.id)
    run_jobs()
    assert len(outbox()) == before


def test_one_click_unsubscribe_without_csrf(app, client, run_jobs, outbox):
    petition = make_campaign(goal=2)
    SupportFactory.create_batch(2, campaign=petition, consents_to_updates=every_other())
    run_jobs()
    run_jobs()
    message = next(m for m in outbox() if m["To"] == "s0@example.org")
    url = message["List-Unsubscribe"].strip("<>").replace("http://groundswell.test", "")
    page = client.get(url)
    assert "Stop emails about" in page.get_data(as_text=True)
    response = client.post(url)  # what a mail client's one-click does: no CSRF token
    assert response.status_code == 200
    support = db.session.execute(select(Support).filter_by(email="s0@example.org")).scalar_one()
    assert support.consents_to_updates is False
    assert support.confirmed_at is not None and support.withdrawn_at is None  # still counts
    assert client.post(url[:-3] + "xyz").status_code == 400


def test_the_sweeper_re_enqueues_milestones_whose_job_was_lost(app, run_jobs, outbox):
    from datetime import timedelta

    organiser = make_user("organiser@example.org", email_frequency=EmailFrequency.IMMEDIATELY)
    petition = make_campaign(organiser=organiser, goal=1000)
    milestone = Milestone(campaign_id=petition.id, threshold=10, reached_at=utcnow() - timedelta(minutes=10))
    db.session.add(milestone)
    db.session.commit()
    assert sweep_job() == 1
    run_jobs()
    assert [m["To"] for m in outbox()] == [organiser.email]
    db.session.commit()
    assert db.session.get(Milestone, milestone.id).notified_at is not None
    assert sweep_job() == 0


def test_reaching_the_goal_offers_to_raise_it(app, client, run_jobs):
    from tests.helpers import login, post_form

    organiser = make_user("organiser@example.org")
    petition = make_campaign(organiser=organiser, goal=10)
    SupportFactory.create_batch(10, campaign=petition, consents_to_updates=every_other())
    run_jobs()
    login(client, organiser.email)
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "You reached your goal!" in page
    too_low = post_form(
        client,
        f"/petitions/{petition.slug}/goal",
        {"goal": "10"},
        page=f"/petitions/{petition.slug}",
        follow_redirects=True,
    )
    assert "Choose a goal above 10" in too_low.get_data(as_text=True)
    post_form(client, f"/petitions/{petition.slug}/goal", {"goal": "50"}, page=f"/petitions/{petition.slug}")
    db.session.commit()
    db.session.refresh(petition)
    assert petition.goal == 50
    SupportFactory.reset_sequence(100)
    SupportFactory.create_batch(40, campaign=petition, consents_to_updates=every_other())
    run_jobs()
    goals = db.session.execute(select(Milestone.threshold).filter_by(is_goal=True)).scalars().all()
    assert sorted(goals) == [10, 50]


@pytest.mark.parametrize("runs", [2])
def test_fold_job_run_twice_is_the_same_as_once(app, runs):
    petition = make_campaign()
    SupportFactory.create_batch(10, campaign=petition, consents_to_updates=every_other())
    for _ in range(runs):
        fold_counts_job()
    db.session.commit()
    db.session.refresh(petition)
    assert petition.confirmed_count == 10
    assert db.session.query(Milestone).count() == 1
