#!/usr/bin/env python3
"""Check Groundswell's proofs offline: a supporter's receipt, a delivered package, the log.

Needs Python 3.10+ and the ``cryptography`` package, nothing else (``pip install
cryptography``). It never connects to anything: give it the files you saved.

    python verify_proof.py receipt receipt.json [--keys groundswell-keys.json]
    python verify_proof.py package statement.json signatures.csv summary.pdf [--keys ...]
    python verify_proof.py consistency old-head.json new-head.json proof.json [--keys ...]
    python verify_proof.py log log.json [--keys ...]

``--keys`` is the key list published at ``/.well-known/groundswell-keys.json`` (saved once,
or compared with a copy someone else saved): the key that signed must be in it and the
signature must fall within that key's validity. Without it the key carried in the proof is
used, and only its fingerprint is printed for you to compare.

Hashing follows RFC 6962 (Certificate Transparency): a leaf hash is SHA-256(0x00 || leaf),
an inner node SHA-256(0x01 || left || right); a tree of n leaves splits at the largest power
of two below n. Signatures are Ed25519 over the exact UTF-8 bytes of the statement string.
Exit status 0 means every check passed; 1 means one failed (the reason is printed).
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import sys
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


class ProofError(Exception):
    """A proof does not verify; the message says which check failed."""


# ------------------------------------------------------------------------ hashing (RFC 6962)


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def root_from_inclusion(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """The root implied by a leaf hash at ``index`` of ``size`` and its audit path
    (RFC 9162, 2.1.3.2). Raises ProofError if the path has the wrong shape."""
    if not 0 <= index < size:
        raise ProofError("the leaf index is outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("the audit path is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the audit path is too short")
    return r


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> None:
    """Check that the tree of ``size2`` leaves with ``root2`` extends the tree of ``size1``
    with ``root1``, i.e. nothing of the first was changed (RFC 9162, 2.1.4.2)."""
    if size1 > size2:
        raise ProofError("the first tree is larger than the second")
    if size1 == size2:
        if proof or root1 != root2:
            raise ProofError("two heads of the same size with different roots")
        return
    if size1 == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != root1:
        raise ProofError(
            "the old head's root is not a prefix of the new tree: an entry was changed or removed"
        )
    if sr != root2:
        raise ProofError("the new head's root does not match the proof")


def merkle_root(leaf_hashes: list[bytes]) -> bytes:
    """The RFC 6962 root of a list of leaf hashes (the empty tree: SHA-256 of nothing)."""
    if not leaf_hashes:
        return hashlib.sha256(b"").digest()
    level = list(leaf_hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])  # a lone last node moves up as it is
        level = nxt
    return level[0]


# ------------------------------------------------------------------------------ signatures


def key_id(public_key: bytes) -> str:
    """A key's fingerprint: the first 16 hex digits of SHA-256 of its 32 raw bytes."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def _b64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def choose_key(signed: dict, carried: dict | None, keys: dict | None) -> bytes:
    """The public key to check ``signed`` (a statement's fields) with: from the published
    list when given (and the time must fall within that key's validity), else the carried."""
    wanted = signed.get("key_id")
    if keys is not None:
        for entry in keys.get("keys", []):
            if entry.get("key_id") == wanted:
                raw = _b64(entry["public_key"])
                if key_id(raw) != wanted:
                    raise ProofError("the key list's key does not match its fingerprint")
                when = _parse_time(signed.get("time"))
                start, end = _parse_time(entry.get("valid_from")), _parse_time(entry.get("valid_until"))
                if when is None or (start and when < start) or (end and when > end):
                    raise ProofError(f"key {wanted} was not valid at {signed.get('time')}")
                return raw
        raise ProofError(f"key {wanted} is not in the published key list")
    if not carried:
        raise ProofError("no public key given")
    raw = _b64(carried["public_key"])
    if key_id(raw) != wanted:
        raise ProofError("the carried key is not the one that signed")
    return raw


def verify_signed(text: str, signature: str, public_key: bytes) -> dict:
    """Check an Ed25519 signature over ``text`` (UTF-8); returns ``text`` parsed as JSON."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(_b64(signature), text.encode())
    except (InvalidSignature, ValueError) as exc:
        raise ProofError("the signature is not valid for this key") from exc
    return json.loads(text)


def check_signed(document: dict, keys: dict | None) -> dict:
    """Check a signed document ``{"statement": str, "signature": b64, "key": {...}}``;
    returns the statement's fields."""
    fields = json.loads(document["statement"])
    public = choose_key(fields, document.get("key"), keys)
    return verify_signed(document["statement"], document["signature"], public)


# ------------------------------------------------------------------------------- the checks


def check_receipt(receipt: dict, keys: dict | None = None) -> dict:
    """Check a supporter's receipt: the statement is signed by our key and the leaf is in
    the statement's Merkle tree. Returns ``{"statement": ..., "leaf": ...}`` (both parsed)."""
    statement = check_signed(receipt, keys)
    if statement.get("type") != "groundswell-delivery-statement":
        raise ProofError("this is not a delivery statement")
    size = int(statement["count"])
    if int(receipt["tree_size"]) != size:
        raise ProofError("the receipt's tree size is not the statement's count")
    leaf = receipt["leaf"]
    root = root_from_inclusion(
        leaf_hash(leaf.encode()),
        int(receipt["leaf_index"]),
        size,
        [bytes.fromhex(h) for h in receipt["audit_path"]],
    )
    if root.hex() != statement["merkle_root"]:
        raise ProofError("the leaf is not in the delivered tree (the root differs)")
    return {"statement": statement, "leaf": json.loads(leaf)}


def package_manifest(statement: dict) -> str:
    """The manifest whose SHA-256 is the package digest (the same text the HMAC seal covers)."""
    files = statement["files"]
    return (
        f"groundswell-delivery-v1\ncampaign={statement['campaign']}\n"
        f"round={statement['round']}\nsignatures={statement['count']}\n"
        f"csv-sha256={files['signatures.csv']}\npdf-sha256={files['summary.pdf']}\n"
    )


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_package(document: dict, csv_path: str, pdf_path: str, keys: dict | None = None) -> dict:
    """Check a delivered package: signed statement, both files' bytes, the digest, the count."""
    statement = check_signed(document, keys)
    if statement.get("type") != "groundswell-delivery-statement":
        raise ProofError("this is not a delivery statement")
    for name, path in (("signatures.csv", csv_path), ("summary.pdf", pdf_path)):
        if _file_sha256(path) != statement["files"][name]:
            raise ProofError(f"{name} is not the file that was delivered (its SHA-256 differs)")
    digest = hashlib.sha256(package_manifest(statement).encode()).hexdigest()
    if digest != statement["package_digest"]:
        raise ProofError("the package digest does not match the files")
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = sum(1 for _ in csv.reader(fh)) - 1
    if rows != int(statement["count"]):
        raise ProofError("the CSV does not hold as many signatures as the statement says")
    return statement


def check_head(head: dict, keys: dict | None = None) -> dict:
    """Check a signed tree head of the log; returns its fields."""
    fields = check_signed(head, keys)
    if fields.get("type") != "groundswell-log-head":
        raise ProofError("this is not a tree head of the log")
    return fields


def check_consistency(old: dict, new: dict, proof: dict, keys: dict | None = None) -> None:
    """Check that the log at ``new`` (a signed head) extends the log at ``old``."""
    a, b = check_head(old, keys), check_head(new, keys)
    if (int(proof["first"]), int(proof["second"])) != (a["tree_size"], b["tree_size"]):
        raise ProofError("the proof is for other tree sizes")
    verify_consistency(
        a["tree_size"],
        b["tree_size"],
        bytes.fromhex(a["root_hash"]),
        bytes.fromhex(b["root_hash"]),
        [bytes.fromhex(h) for h in proof["proof"]],
    )


def check_log(log: dict, keys: dict | None = None) -> dict:
    """Check a whole copy of the log: every entry signed and chained to the one before, and
    the head's root the Merkle root of the entries. Returns the head's fields."""
    head = check_head(log["head"], keys)
    entries = log["entries"]
    if len(entries) != head["tree_size"]:
        raise ProofError("the log does not hold as many entries as its head says")
    previous = "0" * 64
    leaves = []
    for seq, entry in enumerate(entries):
        fields = check_signed(entry, keys)
        if fields.get("seq") != seq or fields.get("prev") != previous:
            raise ProofError(f"entry {seq} is not chained to the one before it")
        previous = hashlib.sha256(entry["statement"].encode()).hexdigest()
        leaves.append(leaf_hash(entry["statement"].encode()))
    if merkle_root(leaves).hex() != head["root_hash"]:
        raise ProofError("the entries do not make the head's root")
    return head


# ------------------------------------------------------------------------------- the script


def _load(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", help="the published key list (groundswell-keys.json)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("receipt").add_argument("receipt")
    p = sub.add_parser("package")
    p.add_argument("statement")
    p.add_argument("csv")
    p.add_argument("pdf")
    p = sub.add_parser("consistency")
    p.add_argument("old_head")
    p.add_argument("new_head")
    p.add_argument("proof")
    sub.add_parser("log").add_argument("log")
    args = parser.parse_args(argv)
    keys = _load(args.keys) if args.keys else None
    try:
        if args.command == "receipt":
            result = check_receipt(_load(args.receipt), keys)
            s, leaf = result["statement"], result["leaf"]
            print(
                f"VALID: the signature of {leaf['name']} ({leaf['country']}, {leaf['date']}) "
                f"is one of the {s['count']} delivered to {s['brand_name']} in round "
                f"{s['round']} of {s['campaign']} on {s['time']}."
            )
        elif args.command == "package":
            s = check_package(_load(args.statement), args.csv, args.pdf, keys)
            print(
                f"VALID: round {s['round']} of {s['campaign']}, {s['count']} signatures, "
                f"delivered to {s['brand_name']} on {s['time']}."
            )
        elif args.command == "consistency":
            check_consistency(_load(args.old_head), _load(args.new_head), _load(args.proof), keys)
            s = json.loads(_load(args.new_head)["statement"])
            print("VALID: the newer log extends the older one; nothing in it was rewritten.")
        else:
            s = check_log(_load(args.log), keys)
            print(f"VALID: {s['tree_size']} entries, chained, signed, root {s['root_hash']}.")
    except (ProofError, KeyError, ValueError, TypeError) as exc:
        print(f"NOT VALID: {exc}", file=sys.stderr)
        return 1
    if keys is None:
        print(
            f"Checked with the key carried in the file, fingerprint {s['key_id']}: compare it "
            "with the published key list (--keys checks it for you)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
