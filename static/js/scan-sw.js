/* funrun scan page service worker: the page shell loads with no network once it has been
 * opened online. Served from /staff/scan-sw.js (scope /staff/) by funrun/checkin/views.py.
 *
 * Only the scan page and its own files are cached. Scans, the roster and the counter are
 * never answered from here: the page keeps those in IndexedDB and knows what is pending.
 */
"use strict";

// The query string names this build: a digest of the shell files (v) and their URLs (f).
// A new digest is a new worker, whose cache replaces the old one.
var PARAMS = new URL(self.location.href).searchParams;
var VERSION = "funrun-scan-" + (PARAMS.get("v") || "0");
var SHELL = PARAMS.getAll("f");
var SCAN_PAGE = /^\/staff\/events\/[^/]+\/scan$/;
var NETWORK_MS = 4000;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(VERSION)
      .then(function (cache) { return cache.addAll(SHELL); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (names) {
        return Promise.all(names.filter(function (n) { return n !== VERSION; })
          .map(function (n) { return caches.delete(n); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

// The page asks for itself to be kept (its first load came before this worker ran).
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "keep-page" || typeof data.url !== "string") return;
  var url = new URL(data.url);
  if (url.origin !== self.location.origin || !SCAN_PAGE.test(url.pathname)) return;
  var port = event.ports && event.ports[0];
  event.waitUntil(
    fetch(url.href, { credentials: "same-origin" }).then(function (response) {
      if (response.ok && !response.redirected) {
        return caches.open(VERSION).then(function (cache) { return cache.put(url.href, response); })
          .then(function () { return true; });
      }
      return false;
    }).catch(function () { return false; /* offline: the copy we have stays */ })
      .then(function (kept) { if (port) port.postMessage({ kept: kept }); })
  );
});

function withTimeout(promise, ms) {
  return new Promise(function (resolve, reject) {
    var timer = setTimeout(function () { reject(new Error("timeout")); }, ms);
    promise.then(function (v) { clearTimeout(timer); resolve(v); },
                 function (e) { clearTimeout(timer); reject(e); });
  });
}

function page(request) {
  // Network first (a fresh counter and token), the kept copy when the network fails or
  // is too slow; a sign-in redirect is passed on, never cached.
  return withTimeout(fetch(request), NETWORK_MS).then(function (response) {
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(VERSION).then(function (cache) { cache.put(request.url, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(request.url).then(function (kept) {
      return kept || Response.error();
    });
  });
}

function shellFile(request) {
  // Cache first, refreshed in the background while online.
  return caches.match(request.url).then(function (kept) {
    var fresh = fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(VERSION).then(function (cache) { cache.put(request.url, copy); });
      }
      return response;
    });
    if (kept) {
      fresh.catch(function () {});
      return kept;
    }
    return fresh;
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && SCAN_PAGE.test(url.pathname)) {
    event.respondWith(page(request));
  } else if (SHELL.indexOf(url.pathname) !== -1) {
    event.respondWith(shellFile(request));
  }
});
