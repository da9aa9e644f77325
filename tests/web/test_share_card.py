"""The share card is drawn once per count and language, not on every request."""

from __future__ import annotations

from campaign import sharing
from tests.factories import make_campaign


def test_the_share_card_is_drawn_once_and_served_from_the_cache(client, monkeypatch):
    petition = make_campaign(title="Fair pay for riders")
    drawn = []
    draw = sharing.share_image

    def counting_draw(*args, **kwargs):  # the real drawing, counted
        drawn.append(args)
        return draw(*args, **kwargs)

    monkeypatch.setattr("campaign.sharing.share_image", counting_draw)
    url = f"/petitions/{petition.slug}/share.png"
    first, second = client.get(url), client.get(url)  # neither sends If-None-Match
    assert first.status_code == second.status_code == 200
    assert first.data == second.data and first.data.startswith(b"\x89PNG")
    assert len(drawn) == 1
    petition.title = "Fair pay for all riders"
    from campaign.extensions import db

    db.session.commit()
    changed = client.get(url)
    assert changed.headers["ETag"] != first.headers["ETag"] and len(drawn) == 2
