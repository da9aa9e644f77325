"""The organiser's launch kit: a QR code of the campaign's link and a printable A4 poster."""

from __future__ import annotations

import io

import segno
from flask_babel import format_decimal
from flask_babel import gettext as _
from PIL import Image

from campaign import media
from campaign.models import Campaign

# The PDF's built-in fonts cover Latin-1: typographic marks are written plainly, anything
# else outside it as "?".
_PLAIN = str.maketrans(
    {
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
        "–": "-",
        "—": "-",
        "…": "...",
        "€": "EUR",
        "\u00a0": " ",
        "\u202f": " ",
    }
)


def _latin1(text: str) -> str:
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def qr_code(url: str) -> segno.QRCode:
    # Medium error correction: a poster survives a crease, a drawing pin or some rain.
    return segno.make(url, error="m", micro=False)


def qr_png(url: str, scale: int = 10) -> bytes:
    out = io.BytesIO()
    qr_code(url).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def qr_svg(url: str) -> str:
    """The QR code as inline SVG markup (for the launch kit page)."""
    return qr_code(url).svg_inline(scale=6, border=4, title=url)


def demand_text(campaign: Campaign) -> str:
    if getattr(campaign, "demand", None):
        return campaign.demand
    demands = getattr(campaign, "demand_list", None)
    if demands:
        return "\n".join(f"{n}. {d}" for n, d in enumerate(demands, 1))
    return campaign.summary


def poster_pdf(campaign: Campaign, url: str) -> bytes:
    """An A4 poster: the picture, the title, the demand, the count and a large QR code of
    ``url`` (the campaign's public link), in the current language."""
    from fpdf import FPDF  # here, not at the top: it is a fifth of every app process's start

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(15, 12, 15)
    pdf.set_title(_latin1(campaign.title))
    pdf.set_creator("Groundswell")
    pdf.add_page()
    margin, width = 15, 210 - 30
    pdf.set_xy(margin, 12)
    pdf.set_font("Helvetica", "B", 12)
    pdf.set_text_color(11, 93, 75)
    pdf.cell(
        width,
        6,
        _latin1(_("%(noun)s on Groundswell", noun=str(campaign.noun).capitalize())),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    y = 20
    if campaign.picture:
        path = media.path_of(media.file_name(campaign.picture, "page"))
        if path is not None:
            with Image.open(path) as picture:
                pdf.image(picture.convert("RGB"), x=margin, y=y, w=width, h=width * 9 / 16)
            y += width * 9 / 16 + 4
    pdf.set_xy(margin, y)
    pdf.set_text_color(29, 43, 42)
    pdf.set_font("Helvetica", "B", 26 if len(campaign.title) < 60 else 20)
    pdf.multi_cell(width, 11, _latin1(campaign.title), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 13)
    demand = demand_text(campaign)
    pdf.multi_cell(width, 6.5, _latin1(demand[:600]), align="L", new_x="LMARGIN", new_y="NEXT")
    # The count and the QR code share the bottom of the page.
    qr_size = 70
    bottom = 297 - 15 - qr_size
    pdf.set_xy(margin, bottom)
    pdf.set_font("Helvetica", "B", 22)
    pdf.multi_cell(
        width - qr_size - 8,
        10,
        _latin1(
            _(
                "%(count)s %(supporters)s so far",
                count=format_decimal(campaign.confirmed_count),
                supporters=campaign.count_noun,
            )
        ),
        align="L",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font("Helvetica", "", 13)
    pdf.set_x(margin)
    pdf.multi_cell(
        width - qr_size - 8,
        6.5,
        _latin1(
            _(
                "Goal: %(goal)s. Scan the code with your phone's camera to add yours, or visit:",
                goal=format_decimal(campaign.goal),
            )
        ),
        align="L",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_x(margin)
    pdf.set_font("Helvetica", "B", 11)
    pdf.multi_cell(width - qr_size - 8, 6, _latin1(url), align="L", new_x="LMARGIN", new_y="NEXT")
    with Image.open(io.BytesIO(qr_png(url))) as qr:
        pdf.image(qr.convert("RGB"), x=210 - margin - qr_size, y=bottom, w=qr_size, h=qr_size)
    return bytes(pdf.output())
