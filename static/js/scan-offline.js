/* funrun offline scanning: the roster, the queue of pending scans, and local answers.
 *
 * Plain ES2017, loaded before scan.js, which uses window.FunrunOffline. Everything is kept
 * in IndexedDB (database "funrun-scan"), so the roster and the pending scans survive a
 * reload and a closed browser:
 *   rosters  one per event (keyPath "slug"): GET /api/v1/events/{slug}/roster as it came, ETag included
 *   queue    scans answered here and not yet sent (keyPath "client_ref")
 *   notices  sent scans the server answered differently than this device had
 *   meta     this device's label
 * A bib's QR is verified with the public key by WebCrypto (Ed25519), exactly as the server
 * does (funrun/bibs/signing.py); a typed bib is looked up in the roster.
 *
 * The rule of funrun/checkin/entry.py holds here too: a code from the camera or a
 * handheld scanner (method "scan") must be a validly signed bib, else it is "invalid"; a
 * typed bib number answers "confirm_identity" (nothing queued) until the volunteer has
 * compared the ID card and sends it again with id_checked.
 */
(function () {
  "use strict";

  var DB_NAME = "funrun-scan";
  var DB_VERSION = 1;
  var SHAPE = /^FR1([A-Z2-7]{2}):(0|[1-9][0-9]{0,8}):(0|[1-9][0-9]{0,8}):([A-Z2-7]{103})$/;
  var TYPED = /^([A-Za-z]{0,8})[ \-_.]*0*([0-9]{1,5})$/;
  var MAX_PAYLOAD = 120;
  var MAX_CODE = 200;
  var ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

  // --- IndexedDB --------------------------------------------------------------------------

  var opened = null;

  function open() {
    if (opened) return opened;
    opened = new Promise(function (resolve, reject) {
      if (!window.indexedDB) return reject(new Error("no IndexedDB"));
      var request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains("rosters")) db.createObjectStore("rosters", { keyPath: "slug" });
        if (!db.objectStoreNames.contains("queue")) db.createObjectStore("queue", { keyPath: "client_ref" });
        if (!db.objectStoreNames.contains("notices")) db.createObjectStore("notices", { keyPath: "client_ref" });
        if (!db.objectStoreNames.contains("meta")) db.createObjectStore("meta", { keyPath: "key" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
    return opened;
  }

  function run(storeName, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(storeName, mode);
        var out = work(tx.objectStore(storeName));
        // Resolved when written to disk, not before: a pending scan must not be lost.
        tx.oncomplete = function () { resolve(out && "result" in out ? out.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function get(store, key) { return run(store, "readonly", function (s) { return s.get(key); }); }
  function put(store, value) { return run(store, "readwrite", function (s) { s.put(value); }); }
  function remove(store, key) { return run(store, "readwrite", function (s) { s.delete(key); }); }
  function all(store) { return run(store, "readonly", function (s) { return s.getAll(); }); }

  // --- this device ------------------------------------------------------------------------

  function deviceLabel() {
    return get("meta", "device").then(function (found) {
      if (found) return found.value;
      var bytes = new Uint8Array(4);
      crypto.getRandomValues(bytes);
      var label = "scan-" + Array.prototype.map.call(bytes, function (b) {
        return ALPHABET[b % 32];
      }).join("");
      return put("meta", { key: "device", value: label }).then(function () { return label; });
    });
  }

  // --- the roster -------------------------------------------------------------------------

  function loadRoster(slug) {
    return get("rosters", slug).then(function (stored) {
      if (!stored) return null;
      return pending(slug).then(function (queued) { return overlay(index(stored), queued); });
    });
  }

  // This device's pending check-ins laid over the roster: they count as checked in here.
  function overlay(stored, queued) {
    queued.forEach(function (scan) {
      if (scan.offline_answer === "checked_in" && scan.bib_number != null && scan.station) {
        markLocal(stored, scan.bib_number, scan.station, scan.scanned_at, scan.by, scan.device);
      }
    });
    return stored;
  }

  function index(stored) {
    var byBib = {};
    stored.roster.runners.forEach(function (runner) { byBib[runner.bib_number] = runner; });
    stored.byBib = byBib;
    return stored;
  }

  // The roster as the server sent it, with this device's pending check-ins laid over it.
  function saveRoster(slug, roster, etag) {
    return pending(slug).then(function (queued) {
      var stored = overlay(
        index({ slug: slug, etag: etag, roster: roster, saved_at: new Date().toISOString() }), queued
      );
      var copy = { slug: slug, etag: etag, roster: stored.roster, saved_at: stored.saved_at };
      return put("rosters", copy).then(function () { return stored; });
    });
  }

  function markLocal(stored, bibNumber, station, at, by, device) {
    var runner = stored.byBib[bibNumber];
    if (!runner) return;
    runner.checkins = runner.checkins || {};
    if (!runner.checkins[station]) {
      runner.checkins[station] = { at: at, by: by, device: device, pending: true };
    }
  }

  // A check-in answered online is remembered too: a later offline scan says "already".
  // In memory only; the caller saves the roster now and then (see scan.js persistSoon).
  function remember(stored, station, body) {
    if (!stored || !body || !body.registration) return false;
    var runner = stored.byBib[body.registration.bib_number];
    if (!runner) return false;
    runner.checkins = runner.checkins || {};
    if (body.result === "checked_in" || body.result === "already_checked_in") {
      if (!runner.checkins[station] || runner.checkins[station].pending) {
        runner.checkins[station] = {
          at: body.first_at || new Date().toISOString(),
          by: body.first_by || null,
          device: body.first_device || null,
        };
      }
    }
    return true;
  }

  // --- verifying a bib's QR ---------------------------------------------------------------

  function base32(text) {
    var bits = 0;
    var value = 0;
    var out = [];
    for (var i = 0; i < text.length; i++) {
      value = (value << 5) | ALPHABET.indexOf(text[i]);
      bits += 5;
      if (bits >= 8) {
        out.push((value >>> (bits - 8)) & 255);
        bits -= 8;
      }
    }
    // 103 characters carry 515 bits for 512: the spare bits must be zero (canonical only).
    if (value & ((1 << bits) - 1)) return null;
    return new Uint8Array(out);
  }

  var keyCache = {};

  function publicKey(jwk) {
    var cacheKey = jwk.kid + ":" + jwk.x;
    if (!keyCache[cacheKey]) {
      keyCache[cacheKey] = crypto.subtle.importKey(
        "jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x }, { name: "Ed25519" }, false, ["verify"]
      );
    }
    return keyCache[cacheKey];
  }

  // "valid", "malformed", "forged" or "wrong_event", with the bib number it names.
  function verify(payload, keys, eventId) {
    if (payload.length > MAX_PAYLOAD) return Promise.resolve({ verdict: "malformed" });
    var match = SHAPE.exec(payload);
    if (!match) return Promise.resolve({ verdict: "malformed" });
    var signedEvent = parseInt(match[2], 10);
    var bib = parseInt(match[3], 10);
    var jwk = null;
    keys.forEach(function (key) { if (key.kid === match[1]) jwk = key; });
    var signature = base32(match[4]);
    if (!jwk || !signature || signature.length !== 64) return Promise.resolve({ verdict: "forged" });
    var message = new TextEncoder().encode(payload.slice(0, payload.lastIndexOf(":")));
    return publicKey(jwk)
      .then(function (key) { return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message); })
      .then(function (ok) {
        if (!ok) return { verdict: "forged" };
        if (signedEvent !== eventId) return { verdict: "wrong_event" };
        return { verdict: "valid", bib: bib };
      });
  }

  // A code meant as a signed payload, not a bib number (entry.py looks_signed).
  function looksSigned(code) {
    return code.toUpperCase().indexOf("FR1") === 0 || code.length > 24;
  }

  // How a code was entered: { method: "scan" | "typed", kind: "qr" | "typed", idChecked }.
  function entry(method, code, idChecked) {
    method = method === "typed" ? "typed" : "scan";
    var kind = method === "scan" || looksSigned(code) ? "qr" : "typed";
    return { method: method, kind: kind, idChecked: !!idChecked };
  }

  // The bib a scan names, or the reason it names none (funrun/checkin/fastpath.py identify).
  function identify(code, roster, how) {
    if (how.kind === "qr") {
      return verify(code, roster.keys, roster.event.id).then(function (checked) {
        if (checked.verdict === "wrong_event") return { result: "wrong_event", kind: "qr" };
        if (checked.verdict !== "valid") return { result: "invalid", kind: "qr" };
        return { bib: checked.bib, kind: "qr" };
      });
    }
    var typed = TYPED.exec(code.trim());
    if (!typed || (typed[1] && typed[1].toUpperCase() !== roster.event.bib_prefix.toUpperCase())) {
      return Promise.resolve({ result: "invalid", kind: "typed" });
    }
    return Promise.resolve({ bib: parseInt(typed[2], 10), kind: "typed" });
  }

  function runnerJson(runner) {
    return {
      id: runner.id,
      bib: runner.bib,
      bib_number: runner.bib_number,
      full_name: runner.full_name,
      shirt_size: runner.shirt_size,
      status: runner.status,
      member: runner.member,
      enrolled: !!runner.enrolled,
      offer_enrolment: !runner.member && !runner.enrolled,
    };
  }

  /* Answer a scan from the roster, shaped like the server's answer, marked pending. A
   * check-in is laid over the roster at once, so the same bib again says "already". */
  function answer(stored, code, station, who, method, idChecked) {
    code = (code || "").trim();
    var how = entry(method, code, idChecked);
    var body = { result: "invalid", registration: null, pending: true };
    if (!code || code.length > MAX_CODE) return Promise.resolve({ body: body, bib: null });
    return identify(code, stored.roster, how).then(function (found) {
      if (found.result) {
        body.result = found.result;
        return { body: body, bib: null };
      }
      var runner = stored.byBib[found.bib];
      if (!runner) {
        body.result = "unknown";
        return { body: body, bib: found.bib };
      }
      body.registration = runnerJson(runner);
      var first = runner.checkins && runner.checkins[station];
      if (runner.status !== "confirmed") {
        body.result = "not_confirmed";
      } else if (first) {
        body.result = "already_checked_in";
        body.first_at = first.at;
        body.first_by = first.by;
        body.first_device = first.device;
      } else if (how.kind === "typed" && !how.idChecked) {
        // Not queued: the page asks for the ID card, then answers again with idChecked.
        body.result = "confirm_identity";
      } else {
        body.result = "checked_in";
        markLocal(stored, found.bib, station, who.at, who.by, who.device);
      }
      return { body: body, bib: found.bib };
    });
  }

  // --- the queue --------------------------------------------------------------------------

  function enqueue(scan) { return put("queue", scan); }

  function pending(slug) {
    return all("queue").then(function (scans) {
      return scans
        .filter(function (scan) { return scan.slug === slug; })
        .sort(function (a, b) { return a.seq - b.seq; });
    });
  }

  function sent(clientRef) { return remove("queue", clientRef); }

  function notices(slug) {
    return all("notices").then(function (items) {
      return items.filter(function (item) { return item.slug === slug; })
        .sort(function (a, b) { return a.seq - b.seq; });
    });
  }

  function addNotice(notice) { return put("notices", notice); }

  window.FunrunOffline = {
    open: open,
    deviceLabel: deviceLabel,
    loadRoster: loadRoster,
    saveRoster: saveRoster,
    remember: remember,
    answer: answer,
    entry: entry,
    looksSigned: looksSigned,
    verify: verify,
    enqueue: enqueue,
    pending: pending,
    sent: sent,
    notices: notices,
    addNotice: addNotice,
  };
})();
