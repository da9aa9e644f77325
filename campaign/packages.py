"""Delivery packages: a PDF summary and a CSV of public signatures, digested and sealed.

The CSV is streamed from the database to disk while it is hashed, so a package of a
million signatures never sits in memory. The package digest is a SHA-256 over a small
manifest naming the campaign, the round, the count and both files' own SHA-256; the seal is
an HMAC of that digest with a key derived from ``SECRET_KEY``. The public verify page
recomputes the seal from a digest, so anyone can check a package came from us unaltered.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
from collections import Counter
from pathlib import Path

from flask import current_app
from flask_babel import format_decimal
from flask_babel import gettext as _
from fpdf import FPDF
from sqlalchemy import select

from campaign.campaigns.organiser import neutralise
from campaign.extensions import db
from campaign.models import Campaign, Delivery, Support
from campaign.supports.forms import COUNTRY_NAMES

CSV_HEADER = ["name", "country", "date"]


def storage_dir(delivery_id: int) -> Path:
    folder = Path(current_app.config["DELIVERY_STORAGE"]) / str(delivery_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def package_files(delivery: Delivery) -> dict[str, Path]:
    folder = storage_dir(delivery.id)
    return {"pdf": folder / "summary.pdf", "csv": folder / "signatures.csv"}


def seal_for(digest: str) -> str:
    key = hashlib.sha256(b"groundswell.delivery-seal:" +
                         current_app.config["SECRET_KEY"].encode()).digest()
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


def seal_is_valid(digest: str, seal: str) -> bool:
    return hmac.compare_digest(seal_for(digest), seal.strip().lower())


def manifest(delivery: Delivery) -> str:
    return (f"groundswell-delivery-v1\ncampaign={delivery.campaign.slug}\nround={delivery.round}\n"
            f"signatures={delivery.support_count}\ncsv-sha256={delivery.csv_sha256}\n"
            f"pdf-sha256={delivery.pdf_sha256}\n")


def _round_supports(delivery: Delivery):
    return (select(Support.name, Support.is_public, Support.country, Support.confirmed_at)
            .where(Support.campaign_id == delivery.campaign_id,
                   Support.id > delivery.after_support_id,
                   Support.id <= delivery.up_to_support_id,
                   Support.confirmed_at.is_not(None), Support.withdrawn_at.is_(None))
            .order_by(Support.id)
            .execution_options(yield_per=5000))


def write_csv(delivery: Delivery, path: Path) -> tuple[str, int, Counter]:
    """Stream the round's public signatures to ``path``; returns (sha256, rows, by country).

    Names are shown as supporters chose (withheld ones say so); emails never appear.
    """
    digest = hashlib.sha256()
    countries: Counter[str] = Counter()
    rows = 0
    partial = path.with_suffix(f".{os.getpid()}.part")
    with partial.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_HEADER)
        for name, is_public, country, confirmed_at in db.session.execute(_round_supports(delivery)):
            writer.writerow([neutralise(name if is_public else "Name withheld"), country,
                             confirmed_at.date().isoformat()])
            countries[country] += 1
            rows += 1
    partial.replace(path)  # a concurrent build never leaves a half-written file behind
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest(), rows, countries


def _latin1(text: str) -> str:
    # The PDF's built-in fonts cover Latin-1; anything else is shown as "?".
    return text.encode("latin-1", "replace").decode("latin-1")


def write_pdf(delivery: Delivery, path: Path, countries: Counter) -> str:
    """The one-page summary: the demand, the count, counts by country and a timeline."""
    campaign: Campaign = delivery.campaign
    pdf = FPDF(format="A4")
    pdf.set_creation_date(delivery.created_at)
    pdf.set_title(_latin1(campaign.title))
    pdf.set_author("Groundswell")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 9, _latin1(campaign.title))
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, _latin1(f"A {campaign.noun} to {delivery.brand.name}, delivered by "
                                 f"Groundswell. Round {delivery.round}."))
    pdf.ln(3)
    demand = getattr(campaign, "demand", None) or "\n".join(getattr(campaign, "demand_list", [])) \
        or campaign.summary
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, "The demand", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, _latin1(demand))
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, _latin1(_("%(counted)s in this round, %(total)s in all.",
                             counted=campaign.count_phrase(delivery.support_count),
                             total=format_decimal(delivery.total_count))), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for code, n in countries.most_common(25):
        pdf.cell(90, 5.5, _latin1(COUNTRY_NAMES.get(code, code)))
        pdf.cell(0, 5.5, f"{n:,}", new_x="LMARGIN", new_y="NEXT")
    if len(countries) > 25:
        rest = sum(n for _, n in countries.most_common()[25:])
        pdf.cell(90, 5.5, f"{len(countries) - 25} other countries")
        pdf.cell(0, 5.5, f"{rest:,}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, "Timeline (UTC)", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for when, what in timeline(campaign, delivery):
        pdf.cell(35, 5.5, when.strftime("%Y-%m-%d"))
        pdf.cell(0, 5.5, _latin1(what), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "I", 9)
    pdf.multi_cell(0, 5, "The list of public signatures is in the CSV file delivered with this "
                         "summary. Check this package at the verify page of Groundswell with "
                         "the digest and seal given in the delivery email.")
    data = bytes(pdf.output())
    partial = path.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(data)
    partial.replace(path)
    return hashlib.sha256(data).hexdigest()


def timeline(campaign: Campaign, delivery: Delivery | None = None) -> list:
    events = []
    if campaign.published_at:
        events.append((campaign.published_at, _("Published")))
    for m in campaign.milestones:
        threshold = format_decimal(m.threshold)
        events.append((m.reached_at, _("Goal reached (%(goal)s)", goal=threshold) if m.is_goal
                       else campaign.count_phrase(m.threshold)))
    for d in campaign.deliveries:
        if d.sent_at and (delivery is None or d.round < delivery.round):
            events.append((d.sent_at, _("Round %(round)s delivered to %(brand)s", round=d.round,
                                        brand=d.brand.name)))
    for r in campaign.responses:
        events.append((r.created_at, _("%(brand)s answered: %(stance)s", brand=r.brand.name,
                                       stance=r.stance_label)))
    if delivery is not None:
        events.append((delivery.created_at, _("Round %(round)s prepared", round=delivery.round)))
    return sorted(events, key=lambda e: e[0])


def build(delivery: Delivery) -> None:
    """Write both files and fill in the delivery's counts, hashes, digest and seal (no commit)."""
    files = package_files(delivery)
    delivery.csv_sha256, delivery.support_count, countries = write_csv(delivery, files["csv"])
    delivery.total_count = delivery.campaign.confirmed_count
    delivery.pdf_sha256 = write_pdf(delivery, files["pdf"], countries)
    delivery.digest = hashlib.sha256(manifest(delivery).encode()).hexdigest()
    delivery.seal = seal_for(delivery.digest)


def delivery_for_file(stream) -> Delivery | None:
    """The delivery whose PDF or CSV has exactly these bytes, if its seal holds."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
    value = digest.hexdigest()
    delivery = db.session.execute(
        select(Delivery).where((Delivery.csv_sha256 == value) | (Delivery.pdf_sha256 == value))
    ).scalars().first()
    if delivery is None or not delivery.digest or not seal_is_valid(delivery.digest, delivery.seal):
        return None
    # The stored digest must still be the digest of the stored parts (nothing edited since).
    if hashlib.sha256(manifest(delivery).encode()).hexdigest() != delivery.digest:
        return None
    return delivery
