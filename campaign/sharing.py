"""Sharing a campaign: plain share links with referral codes, and a generated share image."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import textwrap
from collections.abc import Callable
from urllib.parse import quote

from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from PIL import Image, ImageDraw, ImageFont
from redis.exceptions import RedisError

from campaign import media
from campaign.queue import redis_connection
from campaign.tokens import keyed_hex

#: Referral codes we accept in ?ref= (anything else is ignored).
REFERRAL = re.compile(r"^[a-z0-9-]{1,40}$")


#: The ways to share, each a channel name of its own (credited in ?ref=).
CHANNELS = ("email", "whatsapp", "bluesky", "x", "facebook", "linkedin")
_CODE_SIG = 6


def referral_code(support_id: int) -> str:
    """A supporter's own code for their share links: the support's id and a short signature,
    so a code cannot be made up to credit someone else."""
    ident = _base36(support_id)
    return ident + _signature(ident)


def parse_referral(ref: str | None) -> tuple[str | None, int | None]:
    """(channel, referring support id) from a ?ref= value such as ``whatsapp-1z4k9a2b``;
    a bare channel (``email``) has no referrer. Anything malformed gives (None, None)."""
    if not ref or not REFERRAL.match(ref):
        return None, None
    channel, _sep, code = ref.partition("-")
    if not code:
        return channel, None
    ident, sig = code[:-_CODE_SIG], code[-_CODE_SIG:]
    if not ident or not hmac.compare_digest(sig, _signature(ident)):
        return channel, None
    try:
        return channel, int(ident, 36)
    except ValueError:
        return channel, None


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def _signature(ident: str) -> str:
    return keyed_hex(b"referral:" + ident.encode())[:_CODE_SIG]


def ref_value(channel: str, code: str | None = None) -> str:
    return f"{channel}-{code}" if code else channel


def share_links(url: str, title: str, code: str | None = None) -> list[tuple[str, str]]:
    """(label, link) for each way to share; plain links, no third-party script. With a
    supporter's ``code``, each link credits them (and its channel)."""

    # A ref value is [a-z0-9-] (see REFERRAL): quoting leaves it as it is, so the link is
    # quoted once, not once per channel.
    quoted = quote(f"{url}?ref=", safe="")

    def ref(channel: str) -> str:
        return quoted + ref_value(channel, code)

    text = quote(title, safe="")
    return [
        (_("Email"), f"mailto:?subject={text}&body={text}%0A%0A{ref('email')}"),
        ("WhatsApp", f"https://wa.me/?text={text}%20{ref('whatsapp')}"),
        ("Bluesky", f"https://bsky.app/intent/compose?text={text}%20{ref('bluesky')}"),
        ("X", f"https://twitter.com/intent/tweet?text={text}&url={ref('x')}"),
        ("Facebook", f"https://www.facebook.com/sharer/sharer.php?u={ref('facebook')}"),
        ("LinkedIn", f"https://www.linkedin.com/sharing/share-offsite/?url={ref('linkedin')}"),
    ]


def share_kit(campaign_url: str, title: str, support_id: int | None = None) -> dict:
    """What a share prompt shows: the link to copy and the prefilled links, carrying the
    supporter's own code when ``support_id`` is given."""
    return coded_share_kit(campaign_url, title, referral_code(support_id) if support_id else None)


def coded_share_kit(campaign_url: str, title: str, code: str | None) -> dict:
    """:func:`share_kit` with the supporter's referral ``code`` given (None: no code)."""
    return {
        "url": f"{campaign_url}?ref={ref_value('link', code)}",
        "links": share_links(campaign_url, title, code),
        "title": title,
    }


def share_card_key(campaign) -> str:
    """What the card shows, as a key (and ETag): a new count, goal, title, picture or
    language makes a new card."""
    title = hashlib.sha256(campaign.title.encode()).hexdigest()[:12]
    return (
        f"{campaign.id}-{campaign.confirmed_count}-{campaign.goal}-{get_locale()}-{title}"
        f"-{(campaign.picture or '')[:16]}"
    )


def share_card(campaign) -> bytes:
    """The campaign's 1200×630 share card (Open Graph image) in the reader's language: its
    picture, if it has one, under the title, the count and a bar. Drawn once per
    :func:`share_card_key` for every process (the route adds HTTP caching)."""

    def draw() -> bytes:
        background = media.load_share_base(campaign.picture) if campaign.picture else None
        return share_image(
            campaign.title,
            campaign.confirmed_count,
            str(campaign.count_phrase()),
            campaign.goal,
            background=background,
        )

    return _cached(share_card_key(campaign), draw)


def share_image(
    title: str, count: int, counted: str, goal: int, background: Image.Image | None = None
) -> bytes:
    """A 1200×630 PNG card with the title, the count (``counted``: "1 signature") and a
    progress bar, drawn over
    ``background`` (darkened so the words stay readable) or the house green."""
    width, height = 1200, 630
    if background is not None:
        image = background.convert("RGB").resize((width, height))
        shade = Image.new("L", (1, height))
        for y in range(height):  # clear at the top, dark behind the words below
            shade.putpixel((0, y), int(40 + 190 * y / height))
        dark = Image.new("RGB", (width, height), "#062e25")
        image = Image.composite(dark, image, shade.resize((width, height)))
    else:
        image = Image.new("RGB", (width, height), "#0b5d4b")
    draw = ImageDraw.Draw(image)
    big = ImageFont.load_default(size=64)
    mid = ImageFont.load_default(size=44)
    small = ImageFont.load_default(size=32)
    draw.text((70, 60), "Groundswell", font=small, fill="#f6c453")
    lines = textwrap.wrap(title, width=30)[:4]
    y = 130 if background is None else 450 - 80 * len(lines) - 20
    for line in lines:
        draw.text((70, y), line, font=big, fill="#ffffff")
        y += 80
    draw.text(
        (70, 470),
        _("%(counted)s of %(goal)s", counted=counted, goal=format_decimal(goal)),
        font=mid,
        fill="#ffffff",
    )
    draw.rounded_rectangle((70, 540, 1130, 570), radius=15, fill="#e4e1da")
    filled = 70 + int(1060 * min(count, goal) / goal) if goal else 70
    if filled > 85:
        draw.rounded_rectangle((70, 540, filled, 570), radius=15, fill="#f6c453")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


#: Seconds a drawn card is kept in Redis (a new count draws a new card anyway).
SHARE_CARD_SECONDS = 3600


def _cached(key: str, draw: Callable[[], bytes]) -> bytes:
    """The card for ``key`` (what it shows: campaign, count, goal, language, title), drawn by
    ``draw()`` once and kept in Redis for every process: drawing takes a hundred times longer
    than serving. Without Redis it is drawn each time."""
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
