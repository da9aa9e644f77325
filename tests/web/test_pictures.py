"""Pictures: uploaded safely, re-encoded without metadata, shown, replaced and removed; bad
files refused with a clear message, leaving nothing on disk or in the database."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from campaign.extensions import db
from campaign.models import Brand, BrandMember, Campaign, Role, utcnow
from tests.factories import make_brand, make_campaign, make_user
from tests.helpers import csrf_token, login, picture_bytes, post_picture, upload


def bomb_png(width=30000, height=30000) -> bytes:
    """A tiny PNG whose header claims a huge image (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="800" '
    b'height="600"><script>alert(1)</script><rect width="800" height="600"/></svg>'
)


def media_files(app) -> list[Path]:
    folder = Path(app.config["MEDIA_STORAGE"])
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def organiser(client):
    user = make_user("organiser@example.org")
    login(client, user.email)
    return user


def test_a_picture_is_stored_without_metadata_and_shown_everywhere(app, client, organiser):
    campaign = make_campaign(organiser=organiser)
    response = upload(client, campaign, picture_bytes(gps=True))
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert len(campaign.picture) == 64 and campaign.picture_alt == "Pickers in a field at dawn"
    files = media_files(app)
    assert [f.name.split("-", 1)[1] for f in files] == ["card.webp", "page.webp", "share.jpg"]
    for path in files:
        with Image.open(path) as stored:
            assert not stored.getexif(), path.name  # no EXIF (so no GPS) survives
            assert stored.format in ("WEBP", "JPEG")
    with Image.open(files[0]) as card:
        assert card.size == (640, 360)

    page = client.get(f"/petitions/{campaign.slug}").get_data(as_text=True)
    assert f'src="/media/{campaign.picture}-page.webp" alt="Pickers in a field at dawn"' in page
    listing = client.get("/campaigns/").get_data(as_text=True)
    assert f'src="/media/{campaign.picture}-card.webp"' in listing
    embed = client.get(f"/petitions/{campaign.slug}/embed").get_data(as_text=True)
    assert f"/media/{campaign.picture}-card.webp" in embed

    served = client.get(f"/media/{campaign.picture}-card.webp")
    assert served.status_code == 200 and served.mimetype == "image/webp"
    assert "immutable" in served.headers["Cache-Control"]
    assert "max-age=31536000" in served.headers["Cache-Control"]
    assert client.get("/media/..%2Fsecret_key").status_code == 404
    assert client.get(f"/media/{'0' * 64}-card.webp").status_code == 404


def test_the_share_card_is_composed_from_the_picture(app, client, organiser):
    campaign = make_campaign(organiser=organiser)
    plain = Image.open(io.BytesIO(client.get(f"/petitions/{campaign.slug}/share.png").data))
    assert plain.getpixel((600, 20))[:3] == (0x0B, 0x5D, 0x4B)  # the house green
    assert upload(client, campaign, picture_bytes(color=(250, 250, 250))).status_code == 302
    card = Image.open(io.BytesIO(client.get(f"/petitions/{campaign.slug}/share.png").data))
    assert card.size == (1200, 630)
    # The picture shows through at the top (light), the words sit on a darkened bottom.
    grey = card.convert("L")
    top = ImageStat.Stat(grey.crop((0, 0, 1200, 40))).mean[0]
    bottom = ImageStat.Stat(grey.crop((0, 600, 1200, 630))).mean[0]
    assert top > 120 and bottom < 80


BAD_FILES = {
    "not an image": (b"just some text, not a picture" * 20, "notes.jpg", "not a picture"),
    "svg": (SVG, "drawing.svg", "not a picture"),
    "bomb": (bomb_png(), "huge.png", "too large in pixels"),
    "truncated": (picture_bytes()[:3000], "cut.jpg", "damaged or incomplete"),
    "too large": (b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024), "big.jpg", "over 10 MB"),
    "gif": (None, "anim.gif", "not a picture"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_are_refused_and_leave_nothing(app, client, organiser, case):
    data, filename, message = BAD_FILES[case]
    if data is None:
        out = io.BytesIO()
        Image.new("RGB", (400, 300), "red").save(out, "GIF")
        data = out.getvalue()
    campaign = make_campaign(organiser=organiser)
    response = upload(client, campaign, data, filename=filename)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).picture is None
    assert media_files(app) == []


def test_alt_text_is_required(app, client, organiser):
    campaign = make_campaign(organiser=organiser)
    response = upload(client, campaign, picture_bytes(), alt="  ")
    assert response.status_code == 400
    assert "Describe the picture for people who cannot see it" in response.get_data(as_text=True)
    assert media_files(app) == []


def test_replacing_and_removing_a_picture_removes_its_files(app, client, organiser):
    campaign = make_campaign(organiser=organiser)
    upload(client, campaign, picture_bytes(color=(10, 10, 10)))
    first = set(media_files(app))
    upload(client, campaign, picture_bytes("PNG", color=(240, 240, 10)), filename="b.png")
    second = set(media_files(app))
    assert len(second) == 3 and not first & second
    url = f"/petitions/{campaign.slug}/picture/remove"
    token = csrf_token(client, f"/petitions/{campaign.slug}/picture")
    response = client.post(url, data={"csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).picture is None
    assert media_files(app) == []


def test_a_picture_two_campaigns_share_stays_while_one_uses_it(app, client, organiser):
    one, two = make_campaign(organiser=organiser), make_campaign(organiser=organiser)
    same = picture_bytes()
    upload(client, one, same)
    upload(client, two, same)
    assert len(media_files(app)) == 3
    client.post(
        f"/petitions/{one.slug}/picture/remove",
        data={"csrf_token": csrf_token(client, f"/petitions/{one.slug}/picture")},
    )
    assert len(media_files(app)) == 3  # still the picture of the second


def test_moderators_see_the_picture_in_review_and_remove_it_with_a_reason(app, client):
    organiser = make_user("organiser@example.org")
    campaign = make_campaign(organiser=organiser)
    login(client, organiser.email)
    upload(client, campaign, picture_bytes())
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    moderator = make_user("mod@example.org", role=Role.MODERATOR)
    login(client, moderator.email)
    review = client.get(f"/moderation/campaigns/{campaign.id}").get_data(as_text=True)
    db.session.expire_all()
    key = db.session.get(Campaign, campaign.id).picture
    assert f"/media/{key}-page.webp" in review
    url = f"/moderation/campaigns/{campaign.id}/picture/remove"
    token = csrf_token(client, f"/moderation/campaigns/{campaign.id}")
    assert client.post(url, data={"csrf_token": token, "reason": ""}).status_code == 400
    response = client.post(
        url, data={"csrf_token": token, "reason": "Shows a person's face without consent."}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).picture is None
    assert media_files(app) == []
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    login(client, organiser.email)
    page = client.get(f"/petitions/{campaign.slug}").get_data(as_text=True)
    assert "A moderator removed your picture" in page and "without consent" in page


def test_a_verified_brand_member_adds_the_logo_and_others_cannot(app, client):
    brand = make_brand("Acme")
    member, stranger = make_user("m@acme.example"), make_user("s@example.org")
    db.session.add(BrandMember(brand_id=brand.id, user_id=member.id, verified_at=utcnow()))
    db.session.commit()
    url = f"/brands/{brand.slug}/logo"
    login(client, stranger.email)
    assert client.get(url).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    login(client, member.email)
    response = post_picture(client, url, picture_bytes("PNG"), "Acme's red A", "logo.png")
    assert response.status_code == 302
    db.session.expire_all()
    logo = db.session.get(Brand, brand.id).logo
    assert logo and [f.name for f in media_files(app)] == [f"{logo}-logo.png"]
    page = client.get(f"/brands/{brand.slug}").get_data(as_text=True)
    assert f'src="/media/{logo}-logo.png" alt="Acme&#39;s red A"' in page
