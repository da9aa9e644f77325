"""Sharing a campaign: plain share links with referral codes, and a generated share image."""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Callable
from urllib.parse import quote

from flask_babel import format_decimal
from flask_babel import gettext as _
from PIL import Image, ImageDraw, ImageFont

#: Referral codes we accept in ?ref= (anything else is ignored).
REFERRAL = re.compile(r"^[a-z0-9-]{1,40}$")


def share_links(url: str, title: str) -> list[tuple[str, str]]:
    """(label, link) for each way to share; plain links, no third-party script."""
    def ref(code: str) -> str:
        return quote(f"{url}?ref={code}", safe="")

    text = quote(title, safe="")
    return [
        (_("Email"), f"mailto:?subject={text}&body={text}%0A%0A{ref('email')}"),
        ("WhatsApp", f"https://wa.me/?text={text}%20{ref('whatsapp')}"),
        ("Bluesky", f"https://bsky.app/intent/compose?text={text}%20{ref('bluesky')}"),
        ("X", f"https://twitter.com/intent/tweet?text={text}&url={ref('x')}"),
        ("Facebook", f"https://www.facebook.com/sharer/sharer.php?u={ref('facebook')}"),
        ("LinkedIn", f"https://www.linkedin.com/sharing/share-offsite/?url={ref('linkedin')}"),
    ]


def share_image(title: str, count: int, noun: str, goal: int) -> bytes:
    """A 1200×630 PNG card with the title, the count and a progress bar."""
    width, height = 1200, 630
    image = Image.new("RGB", (width, height), "#0b5d4b")
    draw = ImageDraw.Draw(image)
    big = ImageFont.load_default(size=64)
    mid = ImageFont.load_default(size=44)
    small = ImageFont.load_default(size=32)
    draw.text((70, 60), "Groundswell", font=small, fill="#f6c453")
    y = 130
    for line in textwrap.wrap(title, width=30)[:4]:
        draw.text((70, y), line, font=big, fill="#ffffff")
        y += 80
    draw.text((70, 470), _("%(count)s %(supporters)s of %(goal)s", count=format_decimal(count),
                           supporters=noun, goal=format_decimal(goal)), font=mid, fill="#ffffff")
    draw.rounded_rectangle((70, 540, 1130, 570), radius=15, fill="#e4e1da")
    filled = 70 + int(1060 * min(count, goal) / goal) if goal else 70
    if filled > 85:
        draw.rounded_rectangle((70, 540, filled, 570), radius=15, fill="#f6c453")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


#: Seconds a drawn card is kept in Redis (a new count draws a new card anyway).
SHARE_CARD_SECONDS = 3600


def share_card(key: str, draw: Callable[[], bytes]) -> bytes:
    """The card for ``key`` (what it shows: campaign, count, goal, language, title), drawn by
    ``draw()`` once and kept in Redis for every process: drawing takes a hundred times longer
    than serving. Without Redis it is drawn each time."""
    from redis.exceptions import RedisError

    from campaign.queue import redis_connection

    name = f"groundswell:share-card:{key}"
    try:
        png = redis_connection().get(name)
    except RedisError:
        return draw()
    if png is None:
        png = draw()
        try:
            redis_connection().set(name, png, ex=SHARE_CARD_SECONDS)
        except RedisError:
            pass
    return png
