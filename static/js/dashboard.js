/* funrun organiser dashboard: refresh the figures and charts in place.
 *
 * The page is complete without this file (server-rendered tables and SVG charts). Every
 * few seconds, while the tab is visible, it fetches the dashboard's JSON and puts the
 * server's formatted cells ([data-cell]) and redrawn charts ([data-chart]) in place.
 * No text lives here; nothing is fetched from another host.
 */
(function () {
  "use strict";

  var root = document.getElementById("dashboard");
  if (!root || !window.fetch || !window.JSON) {
    return;
  }
  var url = root.getAttribute("data-live-url");
  var seconds = parseInt(root.getAttribute("data-interval"), 10) || 20;
  var updated = document.getElementById("updated");
  var note = document.getElementById("live-note");
  var timer = null;
  var stopped = false;

  function apply(data) {
    var cells = data.cells || {};
    var nodes = root.querySelectorAll("[data-cell]");
    for (var i = 0; i < nodes.length; i++) {
      var key = nodes[i].getAttribute("data-cell");
      if (Object.prototype.hasOwnProperty.call(cells, key) && nodes[i].textContent !== cells[key]) {
        nodes[i].textContent = cells[key];
      }
    }
    var charts = data.charts || {};
    var boxes = root.querySelectorAll("[data-chart]");
    for (var j = 0; j < boxes.length; j++) {
      var name = boxes[j].getAttribute("data-chart");
      if (Object.prototype.hasOwnProperty.call(charts, name)) {
        // Markup rendered and escaped by our own server's templates.
        boxes[j].innerHTML = charts[name];
      }
    }
    if (updated && data.updated) {
      updated.textContent = data.updated;
    }
  }

  function poll() {
    timer = null;
    if (stopped) {
      return;
    }
    if (document.hidden) {
      schedule();
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401 || response.status === 403 || response.redirected) {
          stopped = true; // signed out: leave the last figures on screen
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data) {
          apply(data);
        }
      })
      .catch(function () { /* offline for a moment: try again next time */ })
      .then(schedule);
  }

  function schedule() {
    if (!stopped && timer === null) {
      timer = window.setTimeout(poll, seconds * 1000);
    }
  }

  if (note) {
    note.hidden = false;
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && timer !== null) {
      window.clearTimeout(timer);
      timer = null;
      poll();
    }
  });
  schedule();
})();
