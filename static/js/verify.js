// Checks a receipt or a signed statement (with the package's files) on this device, with
// the browser's own WebCrypto (SHA-256 and Ed25519): nothing is sent to the server. The
// public keys are the ones embedded in the page; the checks are the verifier script's
// (campaign/verifier/verify_proof.py), RFC 6962 hashing and RFC 9162 audit paths.
(function () {
  "use strict";
  var form = document.getElementById("offline-check");
  if (!form) { return; }
  var keys = JSON.parse(document.getElementById("groundswell-keys").textContent);
  var text = JSON.parse(document.getElementById("offline-messages").textContent);
  var out = document.getElementById("offline-result");
  var enc = new TextEncoder();

  function hex(buf) {
    return Array.from(new Uint8Array(buf), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  function unhex(s) {
    if (!/^([0-9a-f]{2})*$/.test(s)) { throw new Error(text.malformed); }
    var a = new Uint8Array(s.length / 2);
    for (var i = 0; i < a.length; i++) { a[i] = parseInt(s.substr(2 * i, 2), 16); }
    return a;
  }
  function unb64(s) { return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); }); }
  function concat(parts) {
    var n = parts.reduce(function (t, p) { return t + p.length; }, 0);
    var a = new Uint8Array(n), o = 0;
    parts.forEach(function (p) { a.set(p, o); o += p.length; });
    return a;
  }
  async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }
  function leafHash(bytes) { return sha256(concat([new Uint8Array([0]), bytes])); }
  function nodeHash(l, r) { return sha256(concat([new Uint8Array([1]), l, r])); }
  function same(a, b) { return a.length === b.length && a.every(function (x, i) { return x === b[i]; }); }

  // RFC 9162, 2.1.3.2: the root from a leaf hash, its index, the tree size and the path.
  async function rootFromPath(leaf, index, size, path) {
    if (!(index >= 0 && index < size)) { throw new Error(text.not_in_tree); }
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < path.length; i++) {
      if (sn === 0) { throw new Error(text.not_in_tree); }
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(path[i], r);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await nodeHash(r, path[i]);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) { throw new Error(text.not_in_tree); }
    return r;
  }

  // A signed time's day as the site writes one (Babel's "d MMM y": "3 Dec 2026", "3 dic 2026"),
  // in the page's language and in UTC, as signed.
  var dayParts = new Intl.DateTimeFormat(document.documentElement.lang || "en",
    {day: "numeric", month: "short", year: "numeric", timeZone: "UTC"});
  function day(iso) {
    var when = new Date(iso);
    if (isNaN(when)) { return iso.slice(0, 10); }
    var part = {};
    dayParts.formatToParts(when).forEach(function (p) { part[p.type] = p.value; });
    return part.day + " " + part.month + " " + part.year;
  }

  async function checkSignature(doc) {
    var fields = JSON.parse(doc.statement);
    var entry = keys.keys.find(function (k) { return k.key_id === fields.key_id; });
    if (!entry) { throw new Error(text.unknown_key); }
    var when = Date.parse(fields.time);
    if ((entry.valid_from && when < Date.parse(entry.valid_from)) ||
        (entry.valid_until && when > Date.parse(entry.valid_until))) {
      throw new Error(text.key_not_valid);
    }
    var raw = unb64(entry.public_key);
    if (hex(await sha256(raw)).slice(0, 16) !== fields.key_id) { throw new Error(text.unknown_key); }
    var key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    var ok = await crypto.subtle.verify({ name: "Ed25519" }, key, unb64(doc.signature), enc.encode(doc.statement));
    if (!ok) { throw new Error(text.bad_signature); }
    if (fields.type !== "groundswell-delivery-statement") { throw new Error(text.malformed); }
    return fields;
  }

  function csvRows(s) {
    var rows = 0, quoted = false;
    for (var i = 0; i < s.length; i++) {
      var c = s[i];
      if (c === '"') { quoted = !quoted; } else if (c === "\n" && !quoted) { rows++; }
    }
    if (s.length && s[s.length - 1] !== "\n") { rows++; }
    return rows;
  }

  async function checkFiles(fields, files) {
    var names = { "signatures.csv": null, "summary.pdf": null };
    for (var i = 0; i < files.length; i++) {
      var kind = /\.pdf$/i.test(files[i].name) ? "summary.pdf" : "signatures.csv";
      var bytes = new Uint8Array(await files[i].arrayBuffer());
      if (hex(await sha256(bytes)) !== fields.files[kind]) {
        throw new Error(text.file_differs.replace("%(name)s", files[i].name));
      }
      names[kind] = bytes;
    }
    if (names["signatures.csv"] && csvRows(new TextDecoder().decode(names["signatures.csv"])) - 1 !== fields.count) {
      throw new Error(text.count_differs);
    }
    var manifest = "groundswell-delivery-v1\ncampaign=" + fields.campaign + "\nround=" + fields.round +
      "\nsignatures=" + fields.count + "\ncsv-sha256=" + fields.files["signatures.csv"] +
      "\npdf-sha256=" + fields.files["summary.pdf"] + "\n";
    if (hex(await sha256(enc.encode(manifest))) !== fields.package_digest) { throw new Error(text.file_differs.replace("%(name)s", "manifest")); }
    return files.length;
  }

  function show(ok, message) {
    out.hidden = false;
    out.className = ok ? "notice" : "notice notice-warning";
    out.setAttribute("role", ok ? "status" : "alert");
    out.textContent = "";
    var h = document.createElement("h3");
    h.textContent = ok ? text.valid : text.not_valid;
    var p = document.createElement("p");
    p.textContent = message;
    out.appendChild(h);
    out.appendChild(p);
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var proofFile = form.querySelector("#proof_file").files[0];
    var packageFiles = Array.from(form.querySelector("#package_files").files);
    if (!proofFile) { show(false, text.choose_file); return; }
    try {
      var doc = JSON.parse(await proofFile.text());
      var fields = await checkSignature(doc);
      var message;
      if (doc.type === "groundswell-receipt") {
        if (doc.tree_size !== fields.count) { throw new Error(text.not_in_tree); }
        var leaf = await leafHash(enc.encode(doc.leaf));
        var root = await rootFromPath(leaf, doc.leaf_index, doc.tree_size, doc.audit_path.map(unhex));
        if (!same(root, unhex(fields.merkle_root))) { throw new Error(text.not_in_tree); }
        var l = JSON.parse(doc.leaf);
        message = text.receipt_valid.replace("%(name)s", l.name).replace("%(count)s", fields.count)
          .replace("%(brand)s", fields.brand_name).replace("%(round)s", fields.round)
          .replace("%(date)s", day(fields.time));
      } else {
        var checked = await checkFiles(fields, packageFiles);
        message = text.statement_valid.replace("%(count)s", fields.count).replace("%(brand)s", fields.brand_name)
          .replace("%(round)s", fields.round).replace("%(date)s", day(fields.time));
        message += " " + (checked ? text.files_valid : text.no_files);
      }
      show(true, message + " " + text.key_used.replace("%(key)s", fields.key_id));
    } catch (err) {
      show(false, err instanceof SyntaxError ? text.malformed : err.message);
    }
  });
})();
