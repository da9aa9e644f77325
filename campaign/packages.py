"""Delivery packages: a PDF summary and a CSV of public signatures, digested, sealed, signed.

The CSV is streamed from the database to disk while it is hashed, so a package of a
million signatures never sits in memory. The package digest is a SHA-256 over a small
manifest naming the campaign, the round, the count and both files' own SHA-256; the seal is
an HMAC of that digest with a key derived from ``SECRET_KEY`` (only we can check it: it
keeps verifying for packages from before signing began).

Each round is also signed: one Merkle leaf per delivered support (what the CSV shows of it
plus a random salt of its own, so a leaf reveals nothing of other signers), the tree's
levels and the leaves' salts kept next to the package so a supporter's receipt can be served
later, and a statement (campaign, brand, round, count, root, package digest, time) signed
with the deployment's Ed25519 key, which anyone can check offline with the public key.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import hmac
import json
import os
import struct
from collections import Counter
from json.encoder import encode_basestring as _json_string
from pathlib import Path

from flask import current_app
from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy import select

from campaign import merkle, signing
from campaign.extensions import db
from campaign.i18n import COUNTRY_NAMES
from campaign.models import Campaign, Delivery, Support
from campaign.services.campaigns import timeline
from campaign.services.transparency import append_log_entry

CSV_HEADER = ["name", "country", "date"]


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def storage_dir(delivery_id: int) -> Path:
    folder = Path(current_app.config["DELIVERY_STORAGE"]) / str(delivery_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def package_files(delivery: Delivery) -> dict[str, Path]:
    folder = storage_dir(delivery.id)
    return {
        "pdf": folder / "summary.pdf",
        "csv": folder / "signatures.csv",
        "statement": folder / "statement.json",
        "leaves": folder / "leaves.bin",
        "tree": folder / "tree.bin",
    }


#: A leaf's record in leaves.bin: the support's id and its salt, in the tree's order.
LEAF_RECORD = struct.Struct(">Q16s")


def leaf_text(name: str, country: str, day: str, salt: bytes) -> str:
    """The exact text a leaf hashes: what the package shows of a support, and its salt.

    It is ``signing.canonical({"name", "country", "date", "salt"})`` (JSON, keys sorted, no
    spaces), written out by hand because a million of them are built per round.
    """
    return (
        f'{{"country":{_json_string(country)},"date":{_json_string(day)},'
        f'"name":{_json_string(name)},"salt":"{salt.hex()}"}}'
    )


def seal_for(digest: str) -> str:
    key = hashlib.sha256(b"groundswell.delivery-seal:" + current_app.config["SECRET_KEY"].encode()).digest()
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


def seal_is_valid(digest: str, seal: str) -> bool:
    return hmac.compare_digest(seal_for(digest), seal.strip().lower())


def manifest(delivery: Delivery) -> str:
    return (
        f"groundswell-delivery-v1\ncampaign={delivery.campaign.slug}\nround={delivery.round}\n"
        f"signatures={delivery.support_count}\ncsv-sha256={delivery.csv_sha256}\n"
        f"pdf-sha256={delivery.pdf_sha256}\n"
    )


def _round_supports(delivery: Delivery):
    return (
        select(Support.id, Support.name, Support.is_public, Support.country, Support.confirmed_at)
        .where(
            Support.campaign_id == delivery.campaign_id,
            Support.id > delivery.after_support_id,
            Support.id <= delivery.up_to_support_id,
            Support.counts,
        )
        .order_by(Support.id)
        .execution_options(yield_per=5000)
    )


def write_csv(
    delivery: Delivery, path: Path, leaves_path: Path | None = None
) -> tuple[str, int, Counter, bytearray]:
    """Stream the round's public signatures to ``path``; returns (sha256, rows, by country,
    the rows' Merkle leaf hashes). With ``leaves_path``, each row's support id and random
    salt are written there, in the same order.

    Names are shown as supporters chose (withheld ones say so); emails never appear.
    """
    digest = hashlib.sha256()
    countries: Counter[str] = Counter()
    leaves = bytearray()
    rows = 0
    sha256, urandom, pack = hashlib.sha256, os.urandom, LEAF_RECORD.pack
    partial = path.with_suffix(f".{os.getpid()}.part")
    leaves_partial = leaves_path.with_suffix(f".{os.getpid()}.part") if leaves_path else None
    with (
        partial.open("w", newline="", encoding="utf-8") as fh,
        leaves_partial.open("wb") if leaves_partial else open(os.devnull, "wb") as lf,
    ):
        writer = csv.writer(fh)
        writer.writerow(CSV_HEADER)
        for support_id, name, is_public, country, confirmed_at in db.session.execute(
            _round_supports(delivery)
        ):
            shown = neutralise(name if is_public else "Name withheld")
            day = confirmed_at.date().isoformat()
            writer.writerow([shown, country, day])
            salt = urandom(16)
            leaves += sha256(b"\x00" + leaf_text(shown, country, day, salt).encode()).digest()
            lf.write(pack(support_id, salt))
            countries[country] += 1
            rows += 1
    partial.replace(path)  # a concurrent build never leaves a half-written file behind
    if leaves_partial:
        leaves_partial.replace(leaves_path)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest(), rows, countries, leaves


def _latin1(text: str) -> str:
    # The PDF's built-in fonts cover Latin-1; anything else is shown as "?".
    return text.encode("latin-1", "replace").decode("latin-1")


def write_pdf(delivery: Delivery, path: Path, countries: Counter) -> str:
    """The one-page summary: the demand, the count, counts by country and a timeline."""
    campaign: Campaign = delivery.campaign
    from fpdf import FPDF  # here, not at the top: it is a fifth of every app process's start

    pdf = FPDF(format="A4")
    pdf.set_creation_date(delivery.created_at)
    pdf.set_title(_latin1(campaign.title))
    pdf.set_author("Groundswell")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 9, _latin1(campaign.title))
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(
        0,
        6,
        _latin1(
            f"A {campaign.noun} to {delivery.brand.name}, delivered by Groundswell. Round {delivery.round}."
        ),
    )
    pdf.ln(3)
    demand = (
        getattr(campaign, "demand", None)
        or "\n".join(getattr(campaign, "demand_list", []))
        or campaign.summary
    )
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, "The demand", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, _latin1(demand))
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(
        0,
        8,
        _latin1(
            _(
                "%(counted)s in this round, %(total)s in all.",
                counted=campaign.count_phrase(delivery.support_count),
                total=format_decimal(delivery.total_count),
            )
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
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
    pdf.multi_cell(
        0,
        5,
        "The list of public signatures is in the CSV file delivered with this "
        "summary. Both files are covered by the signed statement "
        "(statement.json) delivered with them: check it offline with "
        "Groundswell's public key and verifier, or at its verify page.",
    )
    data = bytes(pdf.output())
    partial = path.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(data)
    partial.replace(path)
    return hashlib.sha256(data).hexdigest()


def build(delivery: Delivery) -> None:
    """Write the package's files, its Merkle tree and its signed statement, fill in the
    delivery's counts, hashes, digest, seal, root and statement, and append the statement to
    the public log (all in the caller's transaction: no commit)."""
    files = package_files(delivery)
    delivery.csv_sha256, delivery.support_count, countries, leaves = write_csv(
        delivery, files["csv"], files["leaves"]
    )
    delivery.total_count = delivery.campaign.confirmed_count
    delivery.pdf_sha256 = write_pdf(delivery, files["pdf"], countries)
    delivery.digest = hashlib.sha256(manifest(delivery).encode()).hexdigest()
    delivery.seal = seal_for(delivery.digest)
    partial = files["tree"].with_suffix(f".{os.getpid()}.part")
    delivery.merkle_root = merkle.write_tree(leaves, partial).hex()
    partial.replace(files["tree"])
    del leaves
    document = signing.sign(statement_fields(delivery))
    delivery.statement, delivery.signature = document["statement"], document["signature"]
    delivery.key_id = document["key"]["key_id"]
    write_statement(files["statement"], document)
    append_log_entry("delivery", {"statement": delivery.statement, "signature": delivery.signature})


def statement_fields(delivery: Delivery) -> dict:
    """What a round's signed statement certifies (the signer adds the key and the time)."""
    return {
        "type": "groundswell-delivery-statement",
        "version": 1,
        "campaign": delivery.campaign.slug,
        "campaign_title": delivery.campaign.title,
        "brand": delivery.brand.slug,
        "brand_name": delivery.brand.name,
        "round": delivery.round,
        "count": delivery.support_count,
        "merkle_root": delivery.merkle_root,
        "package_digest": delivery.digest,
        "files": {"signatures.csv": delivery.csv_sha256, "summary.pdf": delivery.pdf_sha256},
    }


def write_statement(path: Path, document: dict) -> None:
    partial = path.with_suffix(f".{os.getpid()}.part")
    partial.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(path)


def statement_document(delivery: Delivery) -> dict | None:
    """A signed round's statement as the verifier reads it (None before signing began)."""
    if not delivery.statement:
        return None
    return signing.signed_document(delivery.statement, delivery.signature, delivery.key_id)


class _LeafRecords:
    """leaves.bin as a sorted sequence of support ids, for bisect (reads one record each)."""

    def __init__(self, fh, size: int):
        self.fh, self.size = fh, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> int:
        self.fh.seek(index * LEAF_RECORD.size)
        return LEAF_RECORD.unpack(self.fh.read(LEAF_RECORD.size))[0]


def receipt(delivery: Delivery, support: Support) -> dict | None:
    """A supporter's proof that their support is in ``delivery``: the leaf (what the package
    shows of it, and its salt), its place, the audit path to the root, the signed statement
    and the key. None if the round is not signed, or the support is not in it as delivered
    (an erased name no longer makes the same leaf)."""
    if not delivery.statement or delivery.sent_at is None or support.campaign_id != delivery.campaign_id:
        return None
    files = package_files(delivery)
    size = delivery.support_count
    try:
        with files["leaves"].open("rb") as fh:
            records = _LeafRecords(fh, size)
            index = bisect.bisect_left(records, support.id)
            if index >= size or records[index] != support.id:
                return None
            fh.seek(index * LEAF_RECORD.size)
            salt = LEAF_RECORD.unpack(fh.read(LEAF_RECORD.size))[1]
        stored = merkle.leaf_at(files["tree"], index)
        path = merkle.audit_path(files["tree"], size, index)
    except FileNotFoundError:
        return None
    confirmed = support.confirmed_at or support.suspect_confirmed_at
    if confirmed is None:
        return None
    text = leaf_text(
        neutralise(support.name if support.is_public else "Name withheld"),
        support.country,
        confirmed.date().isoformat(),
        salt,
    )
    if merkle.leaf_hash(text.encode()) != stored:
        return None
    return {
        "type": "groundswell-receipt",
        "version": 1,
        "leaf": text,
        "leaf_index": index,
        "tree_size": size,
        "audit_path": [h.hex() for h in path],
        **statement_document(delivery),
    }


def delivered_support_ids(supports: list[Support]) -> set[int]:
    """Which of ``supports`` a signed, sent round holds (one query for a member's list)."""
    campaign_ids = {s.campaign_id for s in supports}
    if not campaign_ids:
        return set()
    rounds = db.session.execute(
        select(Delivery.campaign_id, Delivery.after_support_id, Delivery.up_to_support_id).where(
            Delivery.campaign_id.in_(campaign_ids),
            Delivery.sent_at.is_not(None),
            Delivery.statement.is_not(None),
        )
    ).all()
    return {s.id for s in supports for c, low, high in rounds if c == s.campaign_id and low < s.id <= high}


def delivery_of(support: Support) -> Delivery | None:
    """The signed, sent round that delivered ``support`` (None if none has yet)."""
    return db.session.execute(
        select(Delivery)
        .where(
            Delivery.campaign_id == support.campaign_id,
            Delivery.after_support_id < support.id,
            Delivery.up_to_support_id >= support.id,
            Delivery.sent_at.is_not(None),
            Delivery.statement.is_not(None),
        )
        .order_by(Delivery.round)
        .limit(1)
    ).scalar_one_or_none()


def delivery_for_file(stream) -> Delivery | None:
    """The delivery whose PDF or CSV has exactly these bytes, if its seal holds."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
    value = digest.hexdigest()
    delivery = (
        db.session.execute(
            select(Delivery).where((Delivery.csv_sha256 == value) | (Delivery.pdf_sha256 == value))
        )
        .scalars()
        .first()
    )
    if delivery is None or not delivery.digest or not seal_is_valid(delivery.digest, delivery.seal):
        return None
    # The stored digest must still be the digest of the stored parts (nothing edited since).
    if hashlib.sha256(manifest(delivery).encode()).hexdigest() != delivery.digest:
        return None
    return delivery
