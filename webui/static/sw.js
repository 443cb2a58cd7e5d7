// Værn's service worker. It keeps only the offline page and what that page needs (style sheet, icon), so a
// phone without a connection is told that a report needs one. Every other request goes to the network and
// nothing it answers is stored: no case, evidence or person ever lands in the phone's cache through Værn.
"use strict";
var CACHE = "vaern-offline-" + __VERSION__;
var OFFLINE = __OFFLINE_URL__;
var PRECACHE = __PRECACHE__;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(PRECACHE.map(function (u) { return new Request(u, {credentials: "omit", cache: "reload"}); }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf("vaern-") === 0 && n !== CACHE; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.mode === "navigate") {  // a page (or the share sheet's POST): the network, else the offline page
    event.respondWith(fetch(request).catch(function () {
      return caches.open(CACHE).then(function (cache) { return cache.match(OFFLINE); });
    }));
    return;
  }
  var url = new URL(request.url);
  if (request.method === "GET" && url.origin === self.location.origin && PRECACHE.indexOf(url.pathname) !== -1) {
    // the offline page's own files: the network first, the kept copy only without a connection
    event.respondWith(fetch(request).catch(function () {
      return caches.open(CACHE).then(function (cache) { return cache.match(url.pathname); });
    }));
  }
  // everything else: not handled here, so the browser fetches it as usual and the worker stores nothing
});
