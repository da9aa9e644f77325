"""Supporters' reasons: listed newest and most liked, paged; liked once; reported by anyone
and hidden by moderators; featured by the organiser; read by the brand in the delivery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from campaign.extensions import db
from campaign.jobs.deliveries import delivery_link
from campaign.models import Delivery, ReasonLike, ReasonReport, Role, Support, utcnow
from tests.factories import SupportRowFactory, make_campaign, make_user
from tests.helpers import csrf_token, login


def add_support(campaign, n: int, comment: str | None, *, public=True, confirmed=True):
    """Supporter ``n``'s support with its reason, confirmed in order (n minutes apart)."""
    return SupportRowFactory(
        campaign=campaign,
        email=f"s{n}@example.org",
        name=f"Supporter {n}",
        comment=comment,
        is_public=public,
        confirmed_at=utcnow() - timedelta(minutes=100 - n) if confirmed else None,
    )


def post(client, url: str, page: str, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data})


@pytest.fixture
def petition(app):
    petition = make_campaign(title="Fair pay for pickers")
    for n in range(1, 13):
        add_support(petition, n, f"Reason number {n}")
    add_support(petition, 20, "A private reason", public=False)
    add_support(petition, 21, "An unconfirmed reason", confirmed=False)
    add_support(petition, 22, None)
    return petition


def test_reasons_are_listed_newest_first_and_paged(client, petition):
    base = f"/petitions/{petition.slug}"
    page = client.get(base).get_data(as_text=True)
    assert "Why people support this" in page
    assert page.index("Reason number 12") < page.index("Reason number 11")
    assert "Read all 12 reasons" in page
    first = client.get(f"{base}/reasons").get_data(as_text=True)
    assert "12 supporters said why, in public." in first
    assert "Reason number 12" in first and "Reason number 3" in first
    assert "Reason number 2<" not in first
    assert "private reason" not in first and "unconfirmed reason" not in first
    second = client.get(f"{base}/reasons?page=2").get_data(as_text=True)
    assert "Reason number 2<" in second and "Reason number 1<" in second
    assert "Reason number 3<" not in second


def test_a_member_likes_a_reason_once_and_most_liked_come_first(app, client, petition):
    oldest = db.session.execute(db.select(Support).filter_by(comment="Reason number 1")).scalar()
    base = f"/petitions/{petition.slug}"
    login(client, make_user("fan@example.org").email)
    url = f"{base}/reasons/{oldest.id}/like"
    assert post(client, url, f"{base}/reasons").status_code == 302
    again = post(client, url, f"{base}/reasons", sort="liked")
    assert again.headers["Location"].endswith(f"sort=liked#reason-{oldest.id}")
    assert "You already like this reason." in client.get(again.headers["Location"]).get_data(as_text=True)
    assert db.session.execute(db.select(db.func.count()).select_from(ReasonLike)).scalar() == 1
    liked = client.get(f"{base}/reasons?sort=liked").get_data(as_text=True)
    assert liked.index("Reason number 1<") < liked.index("Reason number 12")
    assert "1 like" in liked and "You like this" in liked
    # The database refuses a second like by the same member, whatever the code does.
    db.session.add(
        ReasonLike(support_id=oldest.id, user_id=db.session.execute(db.select(ReasonLike.user_id)).scalar())
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_visitors_cannot_like_but_can_report(client, petition):
    support = db.session.execute(db.select(Support).filter_by(comment="Reason number 5")).scalar()
    base = f"/petitions/{petition.slug}"
    response = post(client, f"{base}/reasons/{support.id}/like", f"{base}/reasons")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = post(client, f"{base}/reasons/{support.id}/report", f"{base}/reasons", reason="Spam")
    assert response.status_code == 302
    post(client, f"{base}/reasons/{support.id}/report", f"{base}/reasons", reason="Spam again")
    [report] = db.session.execute(db.select(ReasonReport)).scalars().all()
    assert report.reason == "Spam" and report.reporter.startswith("ip:")


def test_moderators_hide_a_reported_reason_everywhere(client, petition):
    support = db.session.execute(db.select(Support).filter_by(comment="Reason number 12")).scalar()
    base = f"/petitions/{petition.slug}"
    post(client, f"{base}/reasons/{support.id}/report", f"{base}/reasons")
    login(client, make_user("mod@example.org", role=Role.MODERATOR).email)
    queue = client.get("/moderation/").get_data(as_text=True)
    assert "Reason number 12" in queue and "reported 1 time" in queue
    response = post(client, f"/moderation/reasons/{support.id}/hide", "/moderation/")
    assert response.status_code == 302
    assert "Reason number 12" not in client.get("/moderation/").get_data(as_text=True)
    for url in (base, f"{base}/reasons"):
        assert "Reason number 12" not in client.get(url).get_data(as_text=True), url
    db.session.expire_all()
    assert db.session.get(Support, support.id).counts  # hidden, still counted


def test_the_organiser_features_one_reason(client, petition):
    one, two = (
        db.session.execute(db.select(Support).filter_by(comment=f"Reason number {n}")).scalar()
        for n in (1, 2)
    )
    base = f"/petitions/{petition.slug}"
    stranger = make_user("stranger@example.org")
    login(client, stranger.email)
    assert post(client, f"{base}/reasons/{one.id}/feature", f"{base}/reasons").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    login(client, petition.organiser.email)
    post(client, f"{base}/reasons/{one.id}/feature", f"{base}/reasons")
    post(client, f"{base}/reasons/{two.id}/feature", f"{base}/reasons")
    db.session.expire_all()
    assert db.session.get(Support, one.id).reason_featured_at is None
    assert db.session.get(Support, two.id).reason_featured_at is not None
    page = client.get(base).get_data(as_text=True)
    featured = page.index('reason-featured" id="reason-' + str(two.id))
    assert featured < page.index("Reason number 12")
    # The database holds at most one featured reason per campaign.
    db.session.get(Support, one.id).reason_featured_at = utcnow()
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_the_brand_reads_the_reasons_in_its_delivery(app, client, petition):
    last = db.session.execute(db.select(Support).filter_by(comment="Reason number 10")).scalar()
    delivery = Delivery(
        campaign_id=petition.id,
        brand_id=petition.target_brand_id,
        round=1,
        up_to_support_id=last.id,
        support_count=10,
        sent_at=utcnow(),
    )
    db.session.add(delivery)
    db.session.commit()
    with app.test_request_context():
        link = delivery_link(delivery)
    page = client.get(link.replace("http://groundswell.test", "")).get_data(as_text=True)
    assert "Why your customers support this" in page
    assert "Reason number 10" in page and "Reason number 11" not in page


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_REASON_LIKE="2 per minute")
def test_likes_are_rate_limited(client, petition):
    base = f"/petitions/{petition.slug}"
    login(client, make_user("eager@example.org").email)
    supports = (
        db.session.execute(db.select(Support).where(Support.comment.like("Reason%")).order_by(Support.id))
        .scalars()
        .all()
    )
    codes = [post(client, f"{base}/reasons/{s.id}/like", f"{base}/reasons").status_code for s in supports[:3]]
    assert codes == [302, 302, 429]


def test_reasons_are_read_from_their_own_index_however_many_supports_have_none(app, database, petition):
    """A campaign of a million supports with a few reasons: each list and count of its
    reasons can read the partial index of public reasons (its condition is implied by the
    query's), and PostgreSQL does, never every support."""
    from sqlalchemy import func, select, text
    from sqlalchemy.exc import OperationalError

    from campaign.services.reasons import public_reasons

    reasons = public_reasons(petition.id).order_by(Support.confirmed_at.desc(), Support.id.desc())
    queries = (
        reasons.limit(3),  # the campaign page's newest three
        reasons.limit(20).offset(20),  # a later page of the reasons page
        select(func.count()).select_from(public_reasons(petition.id).subquery()),
    )
    # Supports without a reason, many more than with one (as a big campaign has).
    db.session.execute(
        text(
            "INSERT INTO supports (campaign_id, email, email_canonical, name, is_public, country,"
            " consents_to_updates, confirmation_sends, created_at, confirmed_at)"
            " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)"
            " SELECT :campaign, 'n' || i || '@example.org', 'n' || i || '@example.org', 'No Reason',"
            " true, 'GB', false, 1, :now, :now FROM n"
        ),
        {"campaign": petition.id, "now": utcnow()},
    )
    db.session.commit()
    db.session.execute(text("ANALYZE supports"))
    db.session.commit()
    if database.backend == "postgresql":
        db.session.execute(text("SET LOCAL enable_seqscan = off"))  # as if the table were big
    for query in queries:
        sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
        if database.backend == "postgresql":
            plan = " ".join(db.session.execute(text("EXPLAIN " + sql)).scalars())
            assert "ix_supports_public_reasons" in plan, plan
        else:
            # SQLite's planner may choose either index on a table this small; told to use
            # this one, it answers "no query solution" unless the query implies its condition.
            forced = sql.replace("FROM supports", "FROM supports INDEXED BY ix_supports_public_reasons")
            assert forced != sql
            try:
                db.session.execute(text(forced)).all()
            except OperationalError as exc:
                pytest.fail(f"the query cannot use the index of public reasons: {exc}")
    db.session.rollback()
