// Registers Værn's service worker (webui/static/sw.js, served at /sw.js), which only shows an offline page.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) return;
  var link = document.querySelector("link[rel=manifest]");
  var url = link && link.dataset.serviceWorker;
  if (!url) return;
  window.addEventListener("load", function () {
    navigator.serviceWorker.register(url, {scope: "/"}).catch(function () { /* an old browser: no offline page */ });
  });
})();
