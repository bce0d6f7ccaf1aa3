/* funrun shirts left at the race-pack pickup: the row "S 12 · M 3 · L 0" on the scan page.
 *
 * The server renders the row (templates/checkin/_shirt_stock_row.html); when scan.js
 * updates the counter after a scan, this asks the same counter URL again, whose answer
 * carries the shirts left per size (GET /api/v1/events/<slug>/checkins/counts), and
 * redraws the row. Without JavaScript the row is as of the page's last load.
 */
(function () {
  "use strict";

  var row = document.getElementById("shirt-stock");
  var items = document.getElementById("shirt-stock-items");
  var root = document.getElementById("scan");
  var counter = document.getElementById("count-in");
  if (!row || !items || !root || !counter || !window.fetch || !window.MutationObserver) return;
  var url = root.getAttribute("data-counts-url");
  var pending = null;

  function draw(shirts) {
    items.textContent = "";
    shirts.forEach(function (shirt, index) {
      if (index) items.appendChild(document.createTextNode(" · "));
      var item = document.createElement("span");
      var out = shirt.left <= 0;
      item.className = "shirt-left" + (out ? " is-out" : shirt.low ? " is-low" : "");
      item.setAttribute("data-size", shirt.size);
      var size = document.createElement("b");
      size.textContent = shirt.size;
      item.appendChild(size);
      item.appendChild(document.createTextNode(" " + shirt.left));
      if (out || shirt.low) {
        var note = document.createElement("span");
        note.className = "visually-hidden";
        note.textContent = " (" + row.getAttribute(out ? "data-label-out" : "data-label-low") + ")";
        item.appendChild(note);
      }
      items.appendChild(item);
    });
    row.hidden = shirts.length === 0;
  }

  function refresh() {
    pending = null;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (counts) { if (counts) draw(counts.shirts || []); })
      .catch(function () { /* offline: the row stays as it was */ });
  }

  new MutationObserver(function () {
    if (pending) clearTimeout(pending);
    pending = setTimeout(refresh, 300);
  }).observe(counter, { childList: true, characterData: true, subtree: true });
})();
