/* funrun volunteer scan page: handheld (keyboard-wedge) scanners, typed bibs and the camera.
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
  var lang = document.documentElement.lang || undefined;

  var POLL_MS = 10000;
  var SAME_CODE_MS = 3000;
  var RETRY_MS = 1500;

  function word(name) {
    return result.getAttribute("data-" + name) || "";
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
    if (outcome === "already_checked_in") return "repeat";
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

  function showOutcome(body) {
    showState(body.result, word("title-" + body.result) || body.result);
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
        detail.appendChild(paragraph(first, "result-first"));
      }
    }
    signal(kindOf(body.result));
  }

  function showError(message) {
    showState("error", message || word("text-error"));
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

  function post(code, ref) {
    return fetch(scanUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrf,
      },
      body: JSON.stringify({ code: code, station: station, client_ref: ref }),
    });
  }

  function wait(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function handle(response) {
    var type = response.headers.get("Content-Type") || "";
    if (response.redirected && type.indexOf("json") === -1) {
      window.location.assign(response.url); // signed out: the sign-in page
      return null;
    }
    if (type.indexOf("json") === -1) {
      if (response.status === 400) return showError(word("text-expired"));
      if (response.status === 429) return showError(word("text-busy"));
      return showError();
    }
    return response.json().then(function (body) {
      if (body && body.result) return showOutcome(body);
      if (body && body.errors) {
        var messages = [];
        Object.keys(body.errors).forEach(function (field) {
          messages = messages.concat(body.errors[field]);
        });
        return showError(messages.join(" "));
      }
      if (response.status === 429) return showError(word("text-busy"));
      return showError((body && (body.detail || body.error)) || "");
    });
  }

  function send(code) {
    var ref = clientRef();
    // A lost connection is retried once with the same client_ref: the server answers a
    // repeated client_ref with the first outcome, so a scan is never counted twice.
    return post(code, ref)
      .catch(function () { return wait(RETRY_MS).then(function () { return post(code, ref); }); })
      .then(handle, function () { showError(); })
      .catch(function () { showError(); })
      .then(refreshCounts);
  }

  var queue = Promise.resolve();

  function submit(code) {
    code = (code || "").trim();
    if (!code) return queue;
    // One scan at a time, in the order they came: a burst of wedge scans stays in order.
    queue = queue.then(function () { return send(code); });
    return queue;
  }

  // --- the text field: handheld scanners type the code and press Enter ------------------

  var cameraHeld = false; // the camera button is being pressed, or the camera is on
  var cameraOn = false;

  function refocus() {
    if (cameraHeld || cameraOn) return;
    if (document.activeElement !== input) input.focus({ preventScroll: true });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    audioContext(); // created in a user gesture, so it may play
    var code = input.value;
    input.value = "";
    submit(code);
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
    if (!code) return;
    var now = Date.now();
    // The same code within 3 s of last seeing it is the same bib still in front of the
    // camera: one scan, not a "checked in" turning into "already" a moment later.
    if (code === lastCode && now - lastAt < SAME_CODE_MS) {
      lastAt = now;
      return;
    }
    lastCode = code;
    lastAt = now;
    submit(code);
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

  setUpCamera();
  refocus();
  setInterval(function () {
    if (!document.hidden) refreshCounts();
  }, POLL_MS);
})();
