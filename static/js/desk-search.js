/* funrun desk search on the scan page: find a runner by name, mobile, bib or NIK, in place.
 *
 * The search form posts (never a GET: a NIK stays out of addresses and logs) to the
 * staff route /staff/events/<slug>/scan/search with this page's session and its CSRF
 * token in X-CSRFToken, asking for JSON; the answer carries the cards as the server's
 * own HTML (templates/checkin/_desk_card.html), so the page shows the same card with or
 * without JavaScript. A card's "Check in" goes through the scan page's typed check-in
 * (window.FunrunScan from static/js/scan.js: method "typed", id_checked from the tick),
 * the one check-in rule; then the search runs again, so the card shows "checked in".
 *
 * Without this file (or without fetch) the forms post and the server renders the page.
 */
(function () {
  "use strict";

  var box = document.getElementById("desk-search");
  var form = document.getElementById("search-form");
  var input = document.getElementById("search-q");
  var message = document.getElementById("search-message");
  var results = document.getElementById("desk-results");
  var root = document.getElementById("scan");
  if (!box || !form || !input || !message || !results || !window.fetch) return;

  var url = box.getAttribute("data-search-url");
  var lastQuery = "";

  function csrf() {
    if (window.FunrunScan && window.FunrunScan.csrf) return window.FunrunScan.csrf();
    var field = form.querySelector("input[name=csrf_token]");
    return (field && field.value) || (root && root.getAttribute("data-csrf")) || "";
  }

  function say(text, isError) {
    message.textContent = text || "";
    message.className = "search-message" + (isError ? " is-error" : "");
  }

  function search(query) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrf(),
      },
      body: JSON.stringify({ q: query }),
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("json") === -1) throw new Error("not json");
      return response.json().then(function (body) {
        if (!response.ok) {
          results.innerHTML = "";
          say(body.error || box.getAttribute("data-text-error"), true);
          return;
        }
        say(body.message, false);
        // The server's own rendering of the card template (escaped by Jinja).
        results.innerHTML = body.html || "";
        if (message.scrollIntoView) message.scrollIntoView({ block: "start", behavior: "smooth" });
      });
    }).catch(function () {
      say(box.getAttribute("data-text-error"), true);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    lastQuery = input.value;
    search(lastQuery);
  });

  // A card's check-in: the scan page's typed check-in, with the ID card tick.
  results.addEventListener("submit", function (event) {
    var card = event.target;
    if (!card.classList || !card.classList.contains("desk-card-form") || !window.FunrunScan) return;
    event.preventDefault();
    var code = card.querySelector("input[name=code]").value;
    var tick = card.querySelector("input[name=id_checked]");
    var button = card.querySelector("button");
    if (button) button.disabled = true;
    window.FunrunScan.submit(code, "typed", !!(tick && tick.checked)).then(function () {
      if (lastQuery) return search(lastQuery);
    }).then(function () {
      var result = document.getElementById("result");
      if (result && result.scrollIntoView) result.scrollIntoView({ block: "start" });
    });
  });
})();
