"""Proofs anyone can check: signed packages, supporters' receipts, the log that only grows."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import venv
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pytest
from sqlalchemy import select, update

from campaign import merkle, packages, signing
from campaign.extensions import db
from campaign.models import Delivery, LogEntry, LogHead, Role, SigningKey, Stance, Support
from campaign.services import abuse, transparency
from campaign.services.deliveries import answer, request_delivery
from campaign.verifier import verify_proof as v
from tests.factories import SupportFactory, every_other, make_brand, make_campaign, make_user
from tests.helpers import link_in, login

VERIFIER = Path(v.__file__)


@pytest.fixture
def delivered(app, run_jobs, outbox):
    """A petition with 5 confirmed signatures, delivered once; returns (petition, delivery)."""
    organiser = make_user("organiser@example.org")
    petition = make_campaign(organiser=organiser, brand=make_brand("Northwind Coffee"), goal=1000)
    SupportFactory.create_batch(5, campaign=petition, consents_to_updates=every_other())
    run_jobs()
    delivery = request_delivery(petition.id, organiser.id)
    run_jobs()
    db.session.commit()
    return petition, db.session.get(Delivery, delivery.id)


def _receipt(support_id: int) -> dict:
    support = db.session.get(Support, support_id)
    return packages.receipt(packages.delivery_of(support), support)


def _keys(client) -> dict:
    return client.get("/.well-known/groundswell-keys.json").get_json()


# ------------------------------------------------------------------------------ the trees


def _rfc6962_root(leaves: list[bytes]) -> bytes:
    """MTH as RFC 6962 defines it (recursively), to check the level-by-level build against."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return v.node_hash(_rfc6962_root(leaves[:k]), _rfc6962_root(leaves[k:]))


def test_trees_paths_and_consistency_proofs_are_rfc_6962s(tmp_path):
    for n in (1, 2, 3, 5, 8, 13, 31, 33):
        leaves = [v.leaf_hash(f"entry {i}".encode()) for i in range(n)]
        root = merkle.write_tree(bytearray(b"".join(leaves)), tmp_path / "tree.bin")
        assert root == _rfc6962_root(leaves) == v.merkle_root(leaves)
        frontier = []
        for leaf in leaves:
            frontier = merkle.extend_frontier(frontier, leaf)
        assert merkle.frontier_root(frontier) == root
        for i in range(n):
            path = merkle.audit_path(tmp_path / "tree.bin", n, i)
            assert v.root_from_inclusion(leaves[i], i, n, path) == root
            assert v.root_from_inclusion(v.leaf_hash(b"forged"), i, n, path) != root
        for m in range(1, n + 1):
            v.verify_consistency(
                m, n, _rfc6962_root(leaves[:m]), root, merkle.consistency_proof(leaves, m, n)
            )


def test_a_leaf_is_the_canonical_json_of_what_the_package_shows_and_its_salt():
    salt = bytes(range(16))
    for name in ('Ana "Q" \\ x', "Zoë\u2028\n\t\x01", "Name withheld", "=cmd", "日本"):
        text = packages.leaf_text(name, "GB", "2026-01-02", salt)
        assert text == signing.canonical(
            {"name": name, "country": "GB", "date": "2026-01-02", "salt": salt.hex()}
        )
        assert json.loads(text)["name"] == name


# --------------------------------------------------------------------- signed packages


def test_a_delivered_package_carries_a_signed_statement_that_verifies_offline(delivered, client):
    petition, delivery = delivered
    files = packages.package_files(delivery)
    document = json.loads(files["statement"].read_text())
    keys = _keys(client)
    statement = v.check_package(document, str(files["csv"]), str(files["pdf"]), keys)
    assert statement["count"] == 5 and statement["round"] == 1
    assert statement["campaign"] == petition.slug and statement["brand_name"] == "Northwind Coffee"
    assert statement["merkle_root"] == delivery.merkle_root
    assert statement["package_digest"] == delivery.digest
    assert document["key"]["key_id"] == keys["current"] == delivery.key_id
    # The old HMAC seal still verifies too.
    assert packages.seal_is_valid(delivery.digest, delivery.seal)


@pytest.mark.parametrize("name", ["csv", "pdf"])
def test_one_changed_byte_in_a_package_fails_verification(delivered, client, tmp_path, name):
    _, delivery = delivered
    files = packages.package_files(delivery)
    document = json.loads(files["statement"].read_text())
    changed = bytearray(files[name].read_bytes())
    changed[len(changed) // 2] ^= 1
    (tmp_path / "changed").write_bytes(bytes(changed))
    paths = {"csv": str(files["csv"]), "pdf": str(files["pdf"]), name: str(tmp_path / "changed")}
    with pytest.raises(v.ProofError, match="not the file that was delivered"):
        v.check_package(document, paths["csv"], paths["pdf"], _keys(client))


def test_a_changed_statement_or_a_wrong_key_fails_verification(delivered, client):
    _, delivery = delivered
    files = packages.package_files(delivery)
    document = json.loads(files["statement"].read_text())
    csv_path, pdf_path = str(files["csv"]), str(files["pdf"])
    forged = dict(document, statement=document["statement"].replace('"count":5', '"count":6'))
    with pytest.raises(v.ProofError, match="signature is not valid"):
        v.check_package(forged, csv_path, pdf_path, _keys(client))
    # Someone else's key, passed off under our fingerprint, or carried in the file.
    other = signing.parse_private_key(signing.new_private_key_pem())
    other_public = base64.b64encode(signing.public_bytes(other)).decode()
    keys = _keys(client)
    keys["keys"][0]["public_key"] = other_public
    with pytest.raises(v.ProofError, match="does not match its fingerprint"):
        v.check_package(document, csv_path, pdf_path, keys)
    with pytest.raises(v.ProofError, match="not the one that signed"):
        v.check_package(dict(document, key={"public_key": other_public}), csv_path, pdf_path, None)
    # A statement the other key signed itself is not ours.
    fields = json.loads(document["statement"])
    fields["key_id"] = v.key_id(signing.public_bytes(other))
    text = signing.canonical(fields)
    signed_by_other = {"statement": text, "signature": base64.b64encode(other.sign(text.encode())).decode()}
    with pytest.raises(v.ProofError, match="not in the published key list"):
        v.check_package(signed_by_other, csv_path, pdf_path, _keys(client))


# ----------------------------------------------------------------------------- receipts


def test_each_supporter_in_the_round_is_told_with_a_link_to_their_receipt(delivered, client, outbox):
    petition, delivery = delivered
    notices = [m for m in outbox() if m["Subject"].startswith("Delivered to Northwind Coffee")]
    # Supporters 0, 2 and 4 asked for updates.
    assert sorted(m["To"] for m in notices) == ["s0@example.org", "s2@example.org", "s4@example.org"]
    page = client.get(link_in(notices[0], "/receipts/"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Your delivery receipt" in html and delivery.merkle_root in html
    download = client.get(link_in(notices[0], "/receipts/").rstrip("/") + "/receipt.json")
    receipt = download.get_json()
    result = v.check_receipt(receipt, _keys(client))
    assert result["leaf"]["country"] == "GB" and result["statement"]["round"] == 1
    support = db.session.execute(select(Support).filter_by(email=notices[0]["To"])).scalar_one()
    assert result["leaf"]["name"] == support.name
    assert client.get("/receipts/forged-token").status_code == 403


def test_every_receipt_of_the_round_verifies_and_a_changed_leaf_does_not(delivered, client):
    petition, delivery = delivered
    keys = _keys(client)
    supports = (
        db.session.execute(select(Support.id).filter_by(campaign_id=petition.id).order_by(Support.id))
        .scalars()
        .all()
    )
    receipts = [_receipt(sid) for sid in supports]
    assert [r["leaf_index"] for r in receipts] == list(range(5))
    for receipt in receipts:
        v.check_receipt(receipt, keys)
    salts = {json.loads(r["leaf"])["salt"] for r in receipts}
    assert len(salts) == 5 and all(len(s) == 32 for s in salts)  # 16 random bytes each
    receipt = receipts[2]
    leaf = json.loads(receipt["leaf"])
    for forged in (
        dict(leaf, name="Someone Else"),
        dict(leaf, salt="00" * 16),
        dict(leaf, date="2001-01-01"),
    ):
        with pytest.raises(v.ProofError, match="not in the delivered tree"):
            v.check_receipt(dict(receipt, leaf=signing.canonical(forged)), keys)
    path = list(receipt["audit_path"])
    path[0] = hashlib.sha256(b"x").hexdigest()
    with pytest.raises(v.ProofError, match="not in the delivered tree"):
        v.check_receipt(dict(receipt, audit_path=path), keys)
    with pytest.raises(v.ProofError):
        v.check_receipt(dict(receipt, leaf_index=3), keys)
    wrong = dict(
        receipt,
        key={
            "key_id": delivery.key_id,
            "public_key": base64.b64encode(
                signing.public_bytes(signing.parse_private_key(signing.new_private_key_pem()))
            ).decode(),
        },
    )
    with pytest.raises(v.ProofError, match="not the one that signed"):
        v.check_receipt(wrong, None)


def test_a_member_gets_their_receipt_from_their_account_and_nobody_else_does(app, client, run_jobs):
    from campaign.jobs.supports import support_token
    from campaign.services.supports import add_support, confirm

    member = make_user("member@example.org", name="Mia Member")
    petition = make_campaign(brand=make_brand("Northwind Coffee"))
    result = add_support(
        petition.id, name="Mia Member", email="member@example.org", country="FR", user_id=member.id
    )
    confirm(support_token("confirm-support", db.session.get(Support, result.support_id)))
    SupportFactory.create_batch(2, campaign=petition, consents_to_updates=every_other())
    run_jobs()
    request_delivery(petition.id, petition.organiser_id)
    run_jobs()
    support_id = result.support_id
    assert client.get(f"/account/receipts/{support_id}").status_code == 302  # log in first
    make_user("other@example.org")
    login(client, "other@example.org")
    assert client.get(f"/account/receipts/{support_id}").status_code == 404
    assert client.get(f"/account/receipts/{support_id}/receipt.json").status_code == 404
    client = app.test_client()  # the member, in a browser of their own
    login(client, "member@example.org")
    profile = client.get("/account/").get_data(as_text=True)
    assert f"/account/receipts/{support_id}" in profile
    page = client.get(f"/account/receipts/{support_id}")
    assert page.status_code == 200 and "Mia Member · FR" in page.get_data(as_text=True)
    receipt = client.get(f"/account/receipts/{support_id}/receipt.json").get_json()
    assert v.check_receipt(receipt, _keys(client))["leaf"]["name"] == "Mia Member"


def _only_cryptography_venv(folder: Path) -> Path:
    """A fresh virtualenv (no system site-packages) holding nothing but ``cryptography``
    and what it requires, linked from this environment's installed copies (no download)."""
    venv.create(folder, system_site_packages=False, with_pip=False, symlinks=True)
    python = folder / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    wanted, seen = ["cryptography"], set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        dist = metadata.distribution(name)
        for file in dist.files or []:
            top = file.parts[0]
            if top.endswith(".dist-info") or top in ("..", "bin"):
                continue
            target = site / top
            if not target.exists():
                target.symlink_to(Path(dist.locate_file(top)))
        for requirement in dist.requires or []:
            spec, _, marker = requirement.partition(";")
            if "extra ==" in marker:
                continue
            if marker.strip() and not _marker_holds(marker):
                continue
            wanted.append(spec.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip())
    return python


def _marker_holds(marker: str) -> bool:
    from packaging.markers import Marker

    return Marker(marker.strip()).evaluate()


def test_a_receipt_verifies_with_the_standalone_script_in_a_venv_holding_only_cryptography(
    delivered, client, tmp_path
):
    _, delivery = delivered
    support = db.session.execute(select(Support).filter_by(email="s3@example.org")).scalar_one()
    (tmp_path / "receipt.json").write_text(json.dumps(_receipt(support.id)))
    (tmp_path / "keys.json").write_text(json.dumps(_keys(client)))
    script = tmp_path / "verify_proof.py"
    script.write_bytes(client.get("/verify/verify_proof.py").get_data())
    assert script.read_bytes() == VERIFIER.read_bytes()
    python = _only_cryptography_venv(tmp_path / "venv")
    isolated = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}

    def run(*args):
        return subprocess.run(
            [str(python), "-I", str(script), *args],
            capture_output=True,
            text=True,
            env=isolated,
            cwd=tmp_path,
            timeout=60,
        )

    # Nothing of the project's environment is importable there: flask, say, is not.
    probe = subprocess.run([str(python), "-I", "-c", "import flask"], capture_output=True, env=isolated)
    assert probe.returncode != 0
    ok = run("--keys", "keys.json", "receipt", "receipt.json")
    assert ok.returncode == 0, ok.stderr
    assert "VALID: the signature of Supporter 3 (GB" in ok.stdout
    receipt = json.loads((tmp_path / "receipt.json").read_text())
    receipt["leaf"] = receipt["leaf"].replace("Supporter 3", "Supporter 9")
    (tmp_path / "forged.json").write_text(json.dumps(receipt))
    bad = run("--keys", "keys.json", "receipt", "forged.json")
    assert bad.returncode == 1 and "NOT VALID" in bad.stderr
    files = packages.package_files(delivery)
    package = run(
        "--keys", "keys.json", "package", str(files["statement"]), str(files["csv"]), str(files["pdf"])
    )
    assert package.returncode == 0, package.stderr


# ------------------------------------------------------------------------- the public log


def test_deliveries_and_answers_go_into_a_signed_chained_log(delivered, client):
    petition, delivery = delivered
    answer(
        petition.id,
        delivery.brand_id,
        author_name="Sam Lee",
        stance=Stance.DISCUSSING,
        body="We are looking into it.",
        delivery_id=delivery.id,
    )
    log = client.get("/log.json").get_json()
    head = v.check_log(log, _keys(client))
    assert head["tree_size"] == 2
    kinds = [json.loads(e["statement"])["kind"] for e in log["entries"]]
    assert kinds == ["delivery", "answer"]
    first = json.loads(log["entries"][0]["statement"])["payload"]
    assert first["statement"] == delivery.statement  # the signed statement itself
    second = json.loads(log["entries"][1]["statement"])["payload"]
    response_digest = hashlib.sha256(b"discussing\nWe are looking into it.").hexdigest()
    assert second["digest"] == response_digest and second["brand"] == delivery.brand.slug
    atom = client.get("/log.atom")
    assert atom.mimetype == "application/atom+xml"
    assert "Delivered: round 1 of" in atom.get_data(as_text=True)
    assert client.get("/log/heads/1.json").status_code == 200
    assert client.get("/log/heads/9.json").status_code == 404
    assert client.get("/log/consistency.json?first=2&second=1").status_code == 400
    assert client.get("/log/consistency.json").status_code == 400


def test_the_consistency_check_catches_a_rewritten_entry(app, client):
    for i in range(3):
        transparency.append_log_entry("answer", {"campaign": "c", "n": i})
    db.session.commit()
    mirrored = client.get("/log/heads/3.json").get_json()  # a mirror keeps this head
    for i in range(3, 7):
        transparency.append_log_entry("answer", {"campaign": "c", "n": i})
    db.session.commit()
    keys = _keys(client)
    newer = client.get("/log/heads/7.json").get_json()
    proof = client.get("/log/consistency.json?first=3&second=7").get_json()
    v.check_consistency(mirrored, newer, proof, keys)  # honest: it verifies

    # Now entry 1 is rewritten, re-signed with our own key, and every head recomputed.
    entry = db.session.execute(select(LogEntry).filter_by(seq=1)).scalar_one()
    fields = json.loads(entry.statement)
    fields["payload"]["n"] = 100
    text = signing.canonical(fields)
    db.session.execute(
        update(LogEntry)
        .where(LogEntry.id == entry.id)
        .values(
            statement=text,
            signature=base64.b64encode(signing.private_key().sign(text.encode())).decode(),
            entry_hash=hashlib.sha256(text.encode()).hexdigest(),
            leaf_hash=v.leaf_hash(text.encode()).hex(),
        )
    )
    leaves = [
        bytes.fromhex(h)
        for h in db.session.execute(select(LogEntry.leaf_hash).order_by(LogEntry.seq)).scalars()
    ]
    for head in db.session.execute(select(LogHead)).scalars():
        signed = signing.sign(
            {
                "type": "groundswell-log-head",
                "tree_size": head.tree_size,
                "root_hash": v.merkle_root(leaves[: head.tree_size]).hex(),
            }
        )
        head.statement, head.signature = signed["statement"], signed["signature"]
        head.root_hash = v.merkle_root(leaves[: head.tree_size]).hex()
    db.session.commit()
    rewritten = client.get("/log/heads/7.json").get_json()
    proof = client.get("/log/consistency.json?first=3&second=7").get_json()
    with pytest.raises(v.ProofError, match="an entry was changed or removed"):
        v.check_consistency(mirrored, rewritten, proof, keys)
    # And the chain gives it away to whoever copied the whole log.
    with pytest.raises(v.ProofError, match="entry 2 is not chained"):
        v.check_log(client.get("/log.json").get_json(), keys)


def test_appends_at_once_never_share_a_place_and_the_chain_holds(app, client):
    """Four threads, each with its own session, append at once: every entry gets its own
    place (the unique seq decides, the loser retries after the winner) and the chain holds."""
    errors = []

    def append_some(worker: int) -> None:
        try:
            with app.app_context():
                for i in range(5):
                    transparency.append_log_entry("answer", {"worker": worker, "n": i})
                    db.session.commit()
                db.session.remove()
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    db.session.commit()
    threads = [threading.Thread(target=append_some, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    log = client.get("/log.json").get_json()
    assert v.check_log(log, _keys(client))["tree_size"] == 20
    payloads = {
        (json.loads(e["statement"])["payload"]["worker"], json.loads(e["statement"])["payload"]["n"])
        for e in log["entries"]
    }
    assert len(payloads) == 20


def test_a_stale_read_of_the_logs_end_retries_at_the_next_place(app, monkeypatch):
    transparency.append_log_entry("answer", {"n": 0})
    stale = transparency.latest_head()
    transparency.append_log_entry("answer", {"n": 1})
    calls = []
    real = transparency.latest_head

    def first_stale():
        calls.append(1)
        return stale if len(calls) == 1 else real()

    monkeypatch.setattr(transparency, "latest_head", first_stale)
    entry = transparency.append_log_entry("answer", {"n": 2})
    db.session.commit()
    assert entry.seq == 2 and len(calls) == 2
    with pytest.raises(ValueError, match="unknown log entry kind"):
        transparency.append_log_entry("edit", {})


def test_supports_invalidated_after_delivery_are_a_new_log_entry(delivered, run_jobs, client):
    petition, delivery = delivered
    moderator = make_user("mod@example.org", role=Role.MODERATOR)
    cond = abuse.conditions(campaign_slug=petition.slug, domain="example.org")
    abuse.start_decision(cond, "a test farm", moderator.id)
    run_jobs()
    log = client.get("/log.json").get_json()
    v.check_log(log, _keys(client))
    last = json.loads(log["entries"][-1]["statement"])
    assert last["kind"] == "invalidation"
    assert last["payload"]["round"] == 1 and last["payload"]["removed"] == 5
    assert last["payload"]["campaign"] == petition.slug
    # The delivered statement is not edited: it still verifies, with its count of 5.
    db.session.expire_all()
    assert json.loads(db.session.get(Delivery, delivery.id).statement)["count"] == 5


def test_supports_released_after_delivery_are_a_new_log_entry_too(delivered, client):
    """The hook the release of held supports calls: supports in a delivered round's range
    that were held (not in its package) and count now are logged, never edited in."""
    petition, delivery = delivered
    ids = (
        db.session.execute(select(Support.id).filter_by(campaign_id=petition.id).order_by(Support.id))
        .scalars()
        .all()
    )
    assert abuse.log_releases_after_delivery(7, Support.id.in_(ids[:2])) == 1
    db.session.commit()
    log = client.get("/log.json").get_json()
    v.check_log(log, _keys(client))
    last = json.loads(log["entries"][-1]["statement"])
    assert last["kind"] == "release"
    assert last["payload"] == {"campaign": petition.slug, "round": 1, "released": 2, "release": 7}


# ------------------------------------------------------------------------------ the keys


def test_a_rotated_key_stays_published_with_its_period_and_old_proofs_verify(delivered, app, client):
    petition, delivery = delivered
    old_receipt = _receipt(
        db.session.execute(select(Support.id).filter_by(campaign_id=petition.id).limit(1)).scalar_one()
    )
    old_key = app.extensions["groundswell.signing_key"]
    app.extensions["groundswell.signing_key"] = signing.parse_private_key(signing.new_private_key_pem())
    transparency.append_log_entry("answer", {"after": "rotation"})
    db.session.commit()
    keys = _keys(client)
    assert [k["key_id"] for k in keys["keys"]] == [delivery.key_id, keys["current"]]
    assert keys["keys"][0]["valid_until"] == keys["keys"][1]["valid_from"]
    v.check_receipt(old_receipt, keys)
    v.check_log(client.get("/log.json").get_json(), keys)
    # The retired key can no longer sign (a process left running with it must restart).
    app.extensions["groundswell.signing_key"] = old_key
    with pytest.raises(signing.SigningKeyRetired):
        transparency.append_log_entry("answer", {"too": "late"})
    db.session.rollback()
    assert (
        db.session.execute(select(SigningKey).filter_by(key_id=delivery.key_id)).scalar_one().valid_until
        is not None
    )


def test_the_verify_page_shows_each_keys_period_as_the_site_shows_dates(client):
    db.session.add(
        SigningKey(
            key_id="old-key",
            public_key=base64.b64encode(bytes(32)).decode(),
            valid_from=datetime(2026, 12, 3, 7, 16, 20, tzinfo=UTC),
            valid_until=datetime(2027, 1, 5, 9, 0, tzinfo=UTC),
        )
    )
    db.session.commit()
    for language, period in (
        ("en", "from 3 Dec 2026 until 5 Jan 2027"),
        ("es", "desde el 3 dic 2026 hasta el 5 ene 2027"),
    ):
        html = client.get("/verify", headers={"Accept-Language": language}).get_data(as_text=True)
        assert f'<html lang="{language}">' in html and period in html, language
        words = re.sub(r"<script.*?</script>", "", html, flags=re.S)  # the key list for the offline check
        assert "2026-12-03" not in words and "2027-01-05" not in words, language
    keys = _keys(client)["keys"]
    assert keys[0]["valid_from"] == "2026-12-03T07:16:20.000000Z"  # the list machines read is exact


def test_the_cli_prints_a_key_production_accepts(runner):
    result = runner.invoke(args=["signing-key"])
    assert result.exit_code == 0 and result.output.startswith("-----BEGIN PRIVATE KEY-----")
    assert len(signing.public_bytes(signing.parse_private_key(result.output))) == 32


def test_the_verifier_script_runs_as_a_command(tmp_path, delivered, client):
    _, delivery = delivered
    support = db.session.execute(select(Support).filter_by(email="s1@example.org")).scalar_one()
    (tmp_path / "r.json").write_text(json.dumps(_receipt(support.id)))
    result = subprocess.run(
        [sys.executable, str(VERIFIER), "receipt", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "compare it with the published key list" in result.stdout
