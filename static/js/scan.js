/* funrun volunteer scan page: handheld (keyboard-wedge) scanners, typed bibs and the camera.
 *
 * Offline (no network, or no answer within a few seconds) a scan is answered from the
 * roster this page keeps (static/js/scan-offline.js), marked as pending and queued; the
 * queue is sent when the network is back, each scan with its own client_ref.
 *
 * Every request goes to the public check-in API (POST /api/v1/events/{slug}/checkins, the
 * counter and the roster), authenticated by this page's signed-in session with its CSRF
 * token in X-CSRFToken; every error comes back as the API's problem document
 * (application/problem+json: title, detail, errors per field).
 *
 * Every scan says how its code was entered (funrun/checkin/entry.py): the camera and a
 * handheld scanner send method "scan" (only a signed bib checks in); a bib number typed
 * into the box is method "typed", answered "confirm_identity" with the runner's name and
 * bib until the volunteer compares the ID card and presses the button that sends it again
 * with id_checked.
 *
 * Plain ES2017, no build step, loaded as a file (the CSP allows no inline script). Without
 * it the form still posts and the server renders the result. The page's #scan and #result
 * elements carry everything this needs as data-* attributes (URLs, CSRF token, station,
 * translated words), so no text lives here.
 */
(function () {
  "use strict";

  var root = document.getElementById("scan");
  var form = document.getElementById("scan-form");
  var input = document.getElementById("code");
  var result = document.getElementById("result");
  var title = document.getElementById("result-title");
  var detail = document.getElementById("result-detail");
  var countIn = document.getElementById("count-in");
  var countTotal = document.getElementById("count-total");
  var cameraButton = document.getElementById("camera-start");
  var video = document.getElementById("camera");
  if (!root || !form || !input || !result || !window.fetch || !window.JSON) {
    return; // leave the page to the plain form
  }

  var scanUrl = root.getAttribute("data-scan-url");
  var countsUrl = root.getAttribute("data-counts-url");
  var station = root.getAttribute("data-station") || "pickup";
  var csrf = root.getAttribute("data-csrf") || "";
  var rosterUrl = root.getAttribute("data-roster-url");
  var slug = root.getAttribute("data-slug") || "";
  var me = root.getAttribute("data-user") || null;
  var lang = document.documentElement.lang || undefined;
  var offline = window.FunrunOffline || null;
  var pendingBox = document.getElementById("pending");
  var pendingCount = document.getElementById("pending-count");
  var networkState = document.getElementById("network-state");
  var deviceName = document.getElementById("device-name");
  var conflictList = document.getElementById("conflicts");
  var conflictItems = document.getElementById("conflict-items");

  var POLL_MS = 10000;
  var ROSTER_MS = 30000;
  var SYNC_MS = 15000;
  var SAME_CODE_MS = 3000;
  var ANSWER_MS = 3000; // longer than this without an answer: answer here, send later

  function word(name) {
    return result.getAttribute("data-" + name) || "";
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, key) {
      return values[key] == null ? "?" : String(values[key]);
    });
  }

  // --- client_ref: one per scan, so a retried request is answered once -----------------

  function clientRef() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(bytes);
    } else {
      for (var i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    return Array.prototype.map
      .call(bytes, function (b) { return (b + 256).toString(16).slice(1); })
      .join("");
  }

  // --- sound and vibration ----------------------------------------------------------------

  var audio = null;

  function audioContext() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!audio) {
      try { audio = new Context(); } catch (e) { return null; }
    }
    if (audio.state === "suspended" && audio.resume) audio.resume().catch(function () {});
    return audio;
  }

  // Tones as [frequency Hz, seconds]; a 0 Hz entry is a pause.
  var TONES = {
    ok: { wave: "sine", notes: [[1046, 0.12], [1568, 0.16]], buzz: 80 },
    repeat: { wave: "triangle", notes: [[660, 0.14], [0, 0.06], [660, 0.14]], buzz: [120, 80, 120] },
    bad: { wave: "square", notes: [[220, 0.18], [0, 0.06], [180, 0.3]], buzz: [250, 100, 250] },
  };

  function signal(kind) {
    var tone = TONES[kind];
    if (navigator.vibrate) {
      try { navigator.vibrate(tone.buzz); } catch (e) { /* not allowed: fine */ }
    }
    var ctx = audioContext();
    if (!ctx) return;
    try {
      var at = ctx.currentTime + 0.01;
      tone.notes.forEach(function (note) {
        if (note[0] > 0) {
          var osc = ctx.createOscillator();
          var gain = ctx.createGain();
          osc.type = tone.wave;
          osc.frequency.value = note[0];
          gain.gain.setValueAtTime(0.0001, at);
          gain.gain.exponentialRampToValueAtTime(0.3, at + 0.01);
          gain.gain.exponentialRampToValueAtTime(0.0001, at + note[1]);
          osc.connect(gain);
          gain.connect(ctx.destination);
          osc.start(at);
          osc.stop(at + note[1] + 0.02);
        }
        at += note[1];
      });
    } catch (e) { /* sound is a nicety */ }
  }

  function kindOf(outcome) {
    if (outcome === "checked_in") return "ok";
    if (outcome === "already_checked_in" || outcome === "confirm_identity") return "repeat";
    return "bad";
  }

  // --- showing a result -------------------------------------------------------------------

  function paragraph(text, className) {
    var p = document.createElement("p");
    if (className) p.className = className;
    p.textContent = text;
    return p;
  }

  function setTitle(heading) {
    // Words are kept whole: "check-in" must not break at its hyphen on a narrow phone.
    while (title.firstChild) title.removeChild(title.firstChild);
    heading.split(" ").forEach(function (w, i) {
      if (i) title.appendChild(document.createTextNode(" "));
      if (w.indexOf("-") === -1) {
        title.appendChild(document.createTextNode(w));
      } else {
        var span = document.createElement("span");
        span.className = "nobreak";
        span.textContent = w;
        title.appendChild(span);
      }
    });
  }

  function showState(state, heading) {
    result.className = "result result-" + state;
    // Restart the flash so two identical answers in a row are still noticed.
    void result.offsetWidth;
    result.classList.add("result-new");
    setTitle(heading);
    while (detail.firstChild) detail.removeChild(detail.firstChild);
  }

  function formatTime(iso) {
    var when = new Date(iso);
    if (isNaN(when.getTime())) return iso || "";
    try {
      return when.toLocaleString(lang, {
        hour: "2-digit", minute: "2-digit", second: "2-digit", day: "numeric", month: "short",
      });
    } catch (e) {
      return when.toLocaleString();
    }
  }

  // A typed bib: the name and bib big, and the button that checks in once the ID card
  // was compared (the same code again, with id_checked).
  function showConfirm(body, code) {
    var reg = body.registration || {};
    detail.appendChild(paragraph(reg.bib || "", "result-bib"));
    detail.appendChild(paragraph(reg.full_name || "", "result-name"));
    detail.appendChild(paragraph(word("text-confirm"), "result-confirm"));
    var button = document.createElement("button");
    button.type = "button";
    button.id = "confirm-id";
    button.className = "button confirm-id";
    button.textContent = word("text-id-checked");
    button.addEventListener("click", function () {
      button.disabled = true;
      audioContext();
      submit(code, "typed", true);
      refocus();
    });
    var holder = document.createElement("p");
    holder.className = "confirm-form";
    holder.appendChild(button);
    detail.appendChild(holder);
  }

  // --- the last answers: a handheld scanner fires several codes a second -----------------

  var answersBox = document.getElementById("answers");
  var answerItems = document.getElementById("answer-items");
  var answering = ""; // the code being answered (scans are sent one at a time)
  var ANSWERS_KEPT = 5;

  // What was scanned or typed, as the page repeats it: a signed payload shortened.
  function shortCode(code) {
    code = code || "";
    return looksSigned(code) && code.length > 12 ? code.slice(0, 12) + "\u2026" : code.slice(0, 40);
  }

  function listAnswer(state, words) {
    if (!answerItems) return;
    var li = document.createElement("li");
    li.className = "answer answer-" + state;
    var when = document.createElement("time");
    when.className = "answer-time";
    var now = new Date();
    when.dateTime = now.toISOString();
    when.textContent = now.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    var what = document.createElement("span");
    what.className = "answer-code";
    what.textContent = shortCode(answering);
    var said = document.createElement("span");
    said.className = "answer-result";
    said.textContent = words;
    li.appendChild(when);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(what);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(said);
    answerItems.insertBefore(li, answerItems.firstChild);
    while (answerItems.children.length > ANSWERS_KEPT) answerItems.removeChild(answerItems.lastChild);
    if (answersBox) answersBox.hidden = false;
  }

  function answerWords(body) {
    var words = word("title-" + body.result) || body.result;
    var reg = body.registration;
    if (reg) words += " \u00b7 " + [reg.bib || "", reg.full_name || ""].join(" ").trim();
    return words;
  }

  function showOutcome(body, code) {
    showState(body.result, word("title-" + body.result) || body.result);
    listAnswer(body.result, answerWords(body));
    if (!body.registration && answering && body.result !== "checked_in") {
      // Nobody found: show what was typed or scanned, so a slip of the finger is seen.
      detail.appendChild(paragraph(fill(word("text-typed"), { code: shortCode(answering) }), "result-typed"));
    }
    if (body.result === "confirm_identity") {
      showConfirm(body, code);
      signal(kindOf(body.result));
      return;
    }
    if (body.pending) {
      result.classList.add("result-pending");
      detail.appendChild(paragraph(word("text-pending"), "pending-flag"));
    }
    if (body.other_event && body.other_event.city) {
      detail.appendChild(paragraph(fill(word("text-other-event"), body.other_event), "result-other-event"));
    }
    var reg = body.registration;
    if (reg) {
      detail.appendChild(paragraph(reg.bib || "", "result-bib"));
      detail.appendChild(paragraph(reg.full_name || "", "result-name"));
      var shirt = paragraph(word("text-shirt") + ": ", "result-shirt");
      var size = document.createElement("strong");
      size.textContent = reg.shirt_size || "";
      shirt.appendChild(size);
      detail.appendChild(shirt);
      if (reg.member) {
        detail.appendChild(paragraph(word("text-member"), "member-flag"));
      } else if (reg.enrolled) {
        detail.appendChild(paragraph(word("text-enrolled"), "member-flag"));
      } else {
        detail.appendChild(paragraph(word("text-enrol"), "enrol-flag"));
        var enrolUrl = root.getAttribute("data-enrol-url");
        if (enrolUrl && reg.id) {
          var link = document.createElement("a");
          link.className = "enrol-link";
          link.href = enrolUrl + "?registration=" + encodeURIComponent(reg.id);
          link.textContent = word("text-enrol-link");
          var holder = document.createElement("p");
          holder.appendChild(link);
          detail.appendChild(holder);
        }
      }
      if (body.result === "already_checked_in") {
        var first = word("text-first")
          .replace("{when}", formatTime(body.first_at))
          .replace("{by}", body.first_by || "?");
        if (body.first_device) first += " (" + body.first_device + ")";
        detail.appendChild(paragraph(first, "result-first"));
      }
    }
    signal(kindOf(body.result));
  }

  function showError(message) {
    showState("error", message || word("text-error"));
    listAnswer("error", message || word("text-error"));
    if (answering) {
      detail.appendChild(paragraph(fill(word("text-typed"), { code: shortCode(answering) }), "result-typed"));
    }
    signal("bad");
  }

  // --- the counter ----------------------------------------------------------------------

  var countsAsked = 0;

  function refreshCounts() {
    if (!countsUrl) return Promise.resolve();
    var asked = ++countsAsked;
    return fetch(countsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (counts) {
        // A slow poll answered after a later request must not put the counter back.
        if (!counts || asked !== countsAsked) return;
        if (countIn && typeof counts.checked_in === "number") countIn.textContent = counts.checked_in;
        if (countTotal && typeof counts.confirmed === "number") countTotal.textContent = counts.confirmed;
      })
      .catch(function () { /* the next poll tries again */ });
  }

  // --- sending a scan -------------------------------------------------------------------

  var device = null; // this device's label, from IndexedDB
  var stored = null; // the roster, from IndexedDB or the server
  var online = navigator.onLine !== false;

  function post(scanBody, timeoutMs) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller && timeoutMs ? setTimeout(function () { controller.abort(); }, timeoutMs) : null;
    return fetch(scanUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrf,
      },
      body: JSON.stringify(scanBody),
      signal: controller ? controller.signal : undefined,
    }).then(function (response) {
      if (timer) clearTimeout(timer);
      return response;
    }, function (error) {
      if (timer) clearTimeout(timer);
      throw error;
    });
  }

  // A problem document of the API (RFC 9457) whose type ends with this name.
  function isProblem(body, kind) {
    return !!(body && typeof body.type === "string" && body.type.slice(-kind.length - 1) === "/" + kind);
  }

  function handle(response, code) {
    var type = response.headers.get("Content-Type") || "";
    if (response.status === 401) {
      window.location.reload(); // signed out: the page sends the sign-in form
      return null;
    }
    if (type.indexOf("json") === -1) {
      if (response.status === 429) return showError(word("text-busy"));
      return showError();
    }
    return response.json().then(function (body) {
      if (body && body.result) {
        if (offline && stored && offline.remember(stored, station, body)) persistSoon();
        return showOutcome(body, code);
      }
      if (isProblem(body, "csrf")) {
        refreshRoster(); // hands the page a current token
        return showError(word("text-expired"));
      }
      if (body && body.errors) return showError(errorText(body.errors));
      if (response.status === 429) return showError(word("text-busy"));
      return showError((body && (body.detail || body.title)) || "");
    });
  }

  function errorText(errors) {
    var messages = [];
    Object.keys(errors).forEach(function (field) { messages = messages.concat(errors[field]); });
    return messages.join(" ");
  }

  function setOnline(state) {
    online = state;
    if (networkState) {
      networkState.textContent = networkState.getAttribute(state ? "data-online" : "data-offline");
      networkState.className = "network-state " + (state ? "is-online" : "is-offline");
    }
  }

  // The roster is a large object: saved once after a burst of scans, not after each. The
  // queue is what must be durable, and it is laid over the roster again on every load.
  var persistTimer = null;

  function persistSoon() {
    if (persistTimer) clearTimeout(persistTimer);
    persistTimer = setTimeout(function () {
      persistTimer = null;
      if (stored) offline.saveRoster(slug, stored.roster, stored.etag).catch(function () {});
    }, 2000);
  }

  // The queue's order: scans in the order they were made, even within one millisecond.
  var lastSeq = 0;

  function nextSeq() {
    lastSeq = Math.max(lastSeq + 1, Date.now() * 1000);
    return lastSeq;
  }

  // No network: answer from the roster, mark the answer pending, queue the scan. A typed
  // bib is queued only once the ID card was checked (confirm_identity queues nothing).
  function answerHere(code, ref, at, method, idChecked) {
    setOnline(false);
    var how = offline.entry(method, code, idChecked);
    var scan = {
      client_ref: ref, slug: slug, station: station, code: code, scanned_at: at,
      offline_answer: null, bib_number: null, by: me, device: device, seq: nextSeq(),
      method: how.method, id_checked: how.idChecked,
    };
    if (!stored && how.kind === "typed" && !how.idChecked) {
      // No roster: no name to compare with the ID card, so nothing to keep.
      showError(word("text-typed-no-roster"));
      return Promise.resolve();
    }
    var unchecked = "text-no-roster";
    var answered = stored
      ? offline.answer(stored, code, station, { at: at, by: me, device: device }, how.method, how.idChecked)
      : Promise.resolve(null);
    // A browser without WebCrypto's Ed25519 cannot check a QR: the scan is still kept.
    answered = answered.catch(function (error) {
      unchecked = "text-unchecked";
      if (window.console) console.warn("offline check:", error);
      return null;
    });
    return answered.then(function (local) {
      if (local && local.body.result === "confirm_identity") return showOutcome(local.body, code);
      if (local) {
        scan.offline_answer = local.body.result;
        scan.bib_number = local.bib;
      }
      // Written to disk before the volunteer sees the answer: a pending scan is never lost.
      return offline.enqueue(scan).then(function () {
        if (!local) return showError(word(unchecked));
        showLocalCount();
        persistSoon();
        return showOutcome(local.body);
      });
    }).then(showPending, function (error) {
      showError();
      if (window.console) console.warn("offline scan:", error);
    });
  }

  function send(code, method, idChecked) {
    answering = code;
    var ref = clientRef();
    var at = new Date().toISOString();
    var body = {
      code: code, station: station, client_ref: ref, device: device,
      method: method, id_checked: !!idChecked,
    };
    if (offline && navigator.onLine === false) return answerHere(code, ref, at, method, idChecked);
    // The server's answer when it comes in time; otherwise this device answers and the
    // scan is sent later with the same client_ref (the server answers a repeated one
    // with its first outcome, so a scan that did arrive is never counted twice).
    return post(body, offline ? ANSWER_MS : 0)
      .then(function (response) {
        // A proxy's 502/504 while the app is down is no answer either: same as no network.
        if (offline && response.status >= 500) return answerHere(code, ref, at, method, idChecked);
        setOnline(true);
        return handle(response, code);
      }, function () {
        if (offline) return answerHere(code, ref, at, method, idChecked);
        showError();
      })
      .catch(function () { showError(); })
      .then(refreshCounts);
  }

  // Offline, the counter is the roster's: the server's check-ins as last seen plus this
  // device's pending ones.
  function showLocalCount() {
    if (!stored || !countIn) return;
    var n = 0;
    stored.roster.runners.forEach(function (runner) {
      if (runner.status === "confirmed" && runner.checkins && runner.checkins[station]) n++;
    });
    countIn.textContent = String(n);
  }

  // --- pending scans and conflicts --------------------------------------------------------

  function showPending() {
    if (!offline || !pendingBox) return Promise.resolve();
    return offline.pending(slug).then(function (scans) {
      pendingCount.textContent = String(scans.length);
      pendingBox.hidden = scans.length === 0;
      if (scans.length === 0) {
        // Everything is sent: the answer on screen is no longer "not sent yet".
        result.classList.remove("result-pending");
        var flag = detail.querySelector(".pending-flag");
        if (flag) flag.parentNode.removeChild(flag);
      }
      return scans.length;
    }).catch(function () {});
  }

  function conflictText(item) {
    return fill(word("text-conflict"), {
      bib: item.bib, name: item.full_name,
      first_at: formatTime(item.first.at), first_by: item.first.by, first_device: item.first.device,
      late_at: formatTime(item.late.scanned_at), late_by: item.late.by, late_device: item.late.device,
    });
  }

  function noticeText(item) {
    return fill(word("text-differs"), {
      bib: item.bib || item.code_hint || "?",
      local: word("title-" + item.offline_answer) || item.offline_answer,
      server: item.error || word("title-" + item.result) || item.result,
      at: formatTime(item.scanned_at),
    });
  }

  // Conflicts this device took part in (from the roster: the server's word, so the other
  // device sees the same), and its own scans the server answered differently.
  function showConflicts() {
    if (!offline || !conflictList) return Promise.resolve();
    return offline.notices(slug).then(function (notes) {
      var items = [];
      var conflicts = (stored && stored.roster.conflicts) || [];
      conflicts.forEach(function (item) {
        if (item.station !== station) return;
        if (device && item.first.device !== device && item.late.device !== device) return;
        items.push({ text: conflictText(item), className: "conflict" });
      });
      notes.forEach(function (note) { items.push({ text: noticeText(note), className: "differs" }); });
      while (conflictItems.firstChild) conflictItems.removeChild(conflictItems.firstChild);
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.className = item.className;
        li.textContent = item.text;
        conflictItems.appendChild(li);
      });
      conflictList.hidden = items.length === 0;
    }).catch(function () {});
  }

  var syncing = null;

  // Send the queue in the order it was scanned; stop at the first network failure.
  function sync() {
    if (!offline) return Promise.resolve();
    if (syncing) return syncing;
    syncing = offline.pending(slug).then(function (scans) {
      if (!scans.length) return false;
      var chain = Promise.resolve(true);
      scans.forEach(function (scan) {
        chain = chain.then(function (goOn) { return goOn ? sendQueued(scan) : false; });
      });
      return chain;
    }).then(function (allSent) {
      return showPending().then(function () {
        // What was sent changes the roster (conflicts, too) and the counter.
        if (allSent) return refreshRoster().then(refreshCounts);
      });
    }, function () {}).then(function () { syncing = null; });
    return syncing;
  }

  function sendQueued(scan, withoutTime) {
    var body = {
      code: scan.code, station: scan.station, client_ref: scan.client_ref,
      scanned_at: withoutTime ? null : scan.scanned_at, device: scan.device || device,
      // Scans queued before methods existed: a signed payload was scanned, else typed.
      method: scan.method || (looksSigned(scan.code) ? "scan" : "typed"),
      id_checked: !!scan.id_checked,
    };
    if (scan.offline_answer) body.offline_answer = scan.offline_answer;
    return post(body, 15000).then(function (response) {
      setOnline(true);
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("json") === -1 || response.status === 401 || response.status === 429) {
        // Signed out or too busy: keep the scan, try again later.
        return false;
      }
      return response.json().then(function (answer) {
        var note = null;
        if (isProblem(answer, "csrf")) {
          // An old CSRF token: keep the scan; the roster refresh hands the page a new one.
          return refreshRoster().then(function () { return false; });
        }
        if (answer && answer.result) {
          if (answer.result !== scan.offline_answer && !answer.conflict && scan.offline_answer) {
            note = { result: answer.result, bib: answer.registration && answer.registration.bib };
          }
        } else if (response.status === 422 && answer && answer.errors && answer.errors.scanned_at && !withoutTime) {
          // A device clock far off (or a scan kept over a week): the check-in still
          // counts, at the time the server receives it.
          return sendQueued(scan, true);
        } else if (response.status === 422 && answer && answer.errors) {
          // Refused as it stands (e.g. more than 7 days old): it can never be sent.
          note = { result: "error", bib: null, error: errorText(answer.errors) };
        } else {
          return false;
        }
        var done = note
          ? offline.addNotice({
            client_ref: scan.client_ref, slug: slug, seq: scan.seq, scanned_at: scan.scanned_at,
            offline_answer: scan.offline_answer, result: note.result, bib: note.bib,
            error: note.error || null,
          })
          : Promise.resolve();
        return done.then(function () { return offline.sent(scan.client_ref); })
          .then(function () { return true; });
      });
    }, function () {
      setOnline(false);
      return false;
    });
  }

  // --- the roster -------------------------------------------------------------------------

  function refreshRoster() {
    if (!offline || !rosterUrl) return Promise.resolve();
    var headers = { Accept: "application/json" };
    if (stored && stored.etag) headers["If-None-Match"] = stored.etag;
    return fetch(rosterUrl, { credentials: "same-origin", headers: headers })
      .then(function (response) {
        setOnline(true);
        var token = response.headers.get("X-CSRFToken");
        if (token) csrf = token;
        if (response.status === 304 || !response.ok) return null;
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("json") === -1) return null;
        var etag = response.headers.get("ETag");
        return response.json().then(function (roster) {
          return offline.saveRoster(slug, roster, etag).then(function (fresh) {
            stored = fresh;
            root.setAttribute("data-roster-version", roster.version || "");
          });
        });
      }, function () { setOnline(false); })
      .then(showConflicts)
      .catch(function (error) { if (window.console) console.warn("roster:", error); });
  }

  // --- installable: the service worker keeps the page for offline loads ------------------

  function setUpServiceWorker() {
    var swUrl = root.getAttribute("data-sw-url");
    if (!swUrl || !navigator.serviceWorker) return;
    var scope = root.getAttribute("data-sw-scope");
    navigator.serviceWorker.register(swUrl, { scope: scope }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      if (!registration.active || navigator.onLine === false || !window.MessageChannel) return;
      // The worker answers once it holds this page: from then on it loads offline.
      var channel = new MessageChannel();
      channel.port1.onmessage = function (event) {
        if (event.data && event.data.kept) root.setAttribute("data-offline-ready", "true");
      };
      registration.active.postMessage({ type: "keep-page", url: window.location.href }, [channel.port2]);
    }).catch(function (error) { if (window.console) console.warn("service worker:", error); });
  }

  var queue = Promise.resolve();

  // A code meant as a signed payload (funrun/checkin/entry.py looks_signed): what a
  // handheld scanner types into the box. Anything else there was typed by a person.
  function looksSigned(code) {
    return code.toUpperCase().indexOf("FR1") === 0 || code.length > 24;
  }

  function submit(code, method, idChecked) {
    code = (code || "").trim();
    if (!code) return queue;
    // One scan at a time, in the order they came: a burst of wedge scans stays in order.
    queue = queue.then(function () { return send(code, method, idChecked); });
    return queue;
  }

  // --- the text field: handheld scanners type the code and press Enter ------------------

  var cameraHeld = false; // the camera button is being pressed, or the camera is on
  var cameraOn = false;

  function refocus() {
    if (cameraHeld || cameraOn) return;
    // The desk's search (and its cards) keep the focus while the volunteer uses them.
    var active = document.activeElement;
    if (active && active.closest && active.closest("[data-keep-focus]")) return;
    if (document.activeElement !== input) input.focus({ preventScroll: true });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    audioContext(); // created in a user gesture, so it may play
    var code = input.value.trim();
    input.value = "";
    submit(code, looksSigned(code) ? "scan" : "typed", false);
    refocus();
  });

  input.addEventListener("blur", function () {
    setTimeout(refocus, 0);
  });

  // --- the camera -------------------------------------------------------------------------

  var scanner = null;
  var lastCode = "";
  var lastAt = 0;

  function onDecode(found) {
    var code = typeof found === "string" ? found : found && found.data;
    // A frame decoded just as the camera was turned off is no scan: nobody is looking.
    if (!code || !cameraOn) return;
    var now = Date.now();
    // The same code within 3 s of last seeing it is the same bib still in front of the
    // camera: one scan, not a "checked in" turning into "already" a moment later.
    if (code === lastCode && now - lastAt < SAME_CODE_MS) {
      lastAt = now;
      return;
    }
    lastCode = code;
    lastAt = now;
    submit(code, "scan", false); // a camera's code must be a signed bib, whatever it holds
  }

  function setCamera(on) {
    cameraOn = on;
    cameraButton.setAttribute("aria-pressed", on ? "true" : "false");
    video.hidden = !on;
    root.classList.toggle("camera-on", on); // the CSS moves the video under the result
    if (on) root.scrollIntoView({ block: "start" });
  }

  function startCamera() {
    var QrScanner = window.QrScanner;
    // Shown first: given a hidden video, qr-scanner shrinks it to nothing (a Safari fix).
    setCamera(true);
    if (!scanner) {
      scanner = new QrScanner(video, onDecode, {
        returnDetailedScanResult: true,
        preferredCamera: "environment",
        maxScansPerSecond: 8,
      });
    }
    input.blur(); // on a phone, the on-screen keyboard would cover the camera
    return scanner.start().catch(function (error) {
      setCamera(false);
      showError();
      if (window.console) console.warn("camera:", error);
    });
  }

  function stopCamera() {
    if (scanner) scanner.stop();
    setCamera(false);
    lastCode = ""; // turning the camera on again is a deliberate new scan
  }

  function setUpCamera() {
    if (!cameraButton || !video || !window.QrScanner) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
    cameraButton.hidden = false;
    cameraButton.setAttribute("aria-pressed", "false");
    cameraButton.addEventListener("pointerdown", function () { cameraHeld = true; });
    cameraButton.addEventListener("pointerup", function () { cameraHeld = false; });
    cameraButton.addEventListener("pointercancel", function () { cameraHeld = false; });
    cameraButton.addEventListener("click", function () {
      cameraHeld = false;
      audioContext();
      if (cameraOn) {
        stopCamera();
        refocus();
      } else {
        startCamera();
      }
    });
    // Typing into the field while the camera runs is allowed: tapping it focuses it.
    document.addEventListener("visibilitychange", function () {
      if (document.hidden && cameraOn) stopCamera();
    });
  }

  // --- start ------------------------------------------------------------------------------

  // The desk's search (static/js/desk-search.js) checks a found runner in through this
  // page's own typed check-in: the same queue, answer and list.
  window.FunrunScan = {
    submit: function (code, method, idChecked) {
      audioContext();
      return submit(code, method, idChecked);
    },
    refocus: refocus,
    // The current CSRF token (the roster's refresh hands the page a new one).
    csrf: function () { return csrf; },
  };

  setUpCamera();
  refocus();
  setUpServiceWorker();
  setInterval(function () {
    if (!document.hidden) refreshCounts();
  }, POLL_MS);
  if (offline) {
    setOnline(navigator.onLine !== false);
    offline.open().then(function () {
      return Promise.all([offline.deviceLabel(), offline.loadRoster(slug)]);
    }).then(function (found) {
      device = found[0];
      stored = stored || found[1];
      if (stored) root.setAttribute("data-roster-version", stored.roster.version || "");
      if (deviceName) deviceName.textContent = device;
      root.setAttribute("data-ready", "true");
      if (navigator.onLine === false) showLocalCount();
      return Promise.all([showPending(), showConflicts()]);
    }).then(function () {
      if (navigator.onLine !== false) return refreshRoster().then(sync);
    }).catch(function (error) {
      offline = null; // no IndexedDB (a private window): scans need the network
      if (window.console) console.warn("offline store:", error);
    });
    window.addEventListener("online", function () { setOnline(true); sync(); });
    window.addEventListener("offline", function () { setOnline(false); });
    setInterval(function () {
      if (document.hidden || navigator.onLine === false) return;
      refreshRoster();
    }, ROSTER_MS);
    setInterval(function () {
      if (navigator.onLine !== false) sync();
    }, SYNC_MS);
  }
})();
