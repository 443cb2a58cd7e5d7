// The remote browser (admin: create a capture profile by logging in): show the screencast and forward
// clicks, wheel scrolling and keys to Værn as small JSON posts. Nothing typed is kept here: each text is
// sent once and forgotten.
(function () {
  var screen = document.getElementById('remote-screen');
  if (!screen) return;
  var img = document.getElementById('remote-frame');
  var status = document.getElementById('remote-status');
  var frameUrl = screen.getAttribute('data-frame-url');
  var inputUrl = screen.getAttribute('data-input-url');
  var csrf = screen.getAttribute('data-csrf');
  var width = parseInt(img.getAttribute('width'), 10), height = parseInt(img.getAttribute('height'), 10);
  var seq = 0, ended = false, shown = '', queue = Promise.resolve(), buffer = '', flushTimer = null;
  var NAMED = ['Enter', 'Tab', 'Backspace', 'Delete', 'Escape', 'ArrowLeft', 'ArrowRight', 'ArrowUp',
               'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown', 'Insert'];

  function end(message) {
    ended = true;
    status.textContent = message || screen.getAttribute('data-ended');
  }

  function send(event) {
    queue = queue.then(function () {
      if (ended) return null;
      return fetch(inputUrl, {method: 'POST', credentials: 'same-origin',
                              headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf},
                              body: JSON.stringify(event)})
        .then(function (r) { if (r.status === 410) { return r.json().then(function (j) { end(j.message); }); } })
        .catch(function () {});
    });
  }

  function flush() {
    if (flushTimer) { clearTimeout(flushTimer); flushTimer = null; }
    if (buffer) { var text = buffer; buffer = ''; send({type: 'text', text: text}); }
  }

  function poll() {
    if (ended) return;
    fetch(frameUrl + '?after=' + seq, {credentials: 'same-origin'}).then(function (r) {
      if (r.status === 410) { return r.json().then(function (j) { end(j.message); }); }
      if (r.status === 204) { poll(); return null; }
      if (!r.ok) { setTimeout(poll, 1000); return null; }
      return r.json().then(function (f) {
        seq = f.seq; width = f.width; height = f.height;
        img.src = f.image;
        var label = screen.getAttribute('data-page-label') + ': ' + (f.title ? f.title + ' — ' : '') + f.url;
        if (label !== shown) { shown = label; status.textContent = label; }
        poll();
      });
    }).catch(function () { setTimeout(poll, 1000); });
  }

  function point(e) {
    var box = img.getBoundingClientRect();
    return {x: Math.round((e.clientX - box.left) * width / box.width),
            y: Math.round((e.clientY - box.top) * height / box.height)};
  }

  img.addEventListener('click', function (e) {
    flush(); screen.focus();
    var p = point(e); send({type: 'click', x: p.x, y: p.y, button: 'left'});
  });
  img.addEventListener('contextmenu', function (e) {
    e.preventDefault(); flush();
    var p = point(e); send({type: 'click', x: p.x, y: p.y, button: 'right'});
  });
  screen.addEventListener('wheel', function (e) {
    e.preventDefault(); flush();
    var unit = e.deltaMode === 1 ? 40 : e.deltaMode === 2 ? height : 1;
    var p = point(e); send({type: 'wheel', x: p.x, y: p.y, dx: e.deltaX * unit, dy: e.deltaY * unit});
  }, {passive: false});
  screen.addEventListener('paste', function (e) {
    var text = (e.clipboardData || window.clipboardData).getData('text');
    e.preventDefault();
    if (text) { flush(); send({type: 'text', text: text.slice(0, 1000)}); }
  });
  screen.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') {  // leave the remote browser (the way out for keyboard users)
      e.preventDefault(); flush();
      var next = document.getElementById('name'); if (next) next.focus();
      return;
    }
    var mods = (e.ctrlKey ? 'Control+' : '') + (e.altKey ? 'Alt+' : '') + (e.metaKey ? 'Meta+' : '');
    if (e.key.length === 1 && !mods) {
      e.preventDefault();
      buffer += e.key;
      if (buffer.length >= 200) { flush(); } else {
        if (flushTimer) clearTimeout(flushTimer);
        flushTimer = setTimeout(flush, 80);
      }
      return;
    }
    if (mods && (e.key === 'v' || e.key === 'V')) return;  // paste: the paste event sends the text
    if (NAMED.indexOf(e.key) >= 0 || (mods && e.key.length === 1)) {
      e.preventDefault(); flush();
      send({type: 'key', key: mods + (e.shiftKey && NAMED.indexOf(e.key) >= 0 ? 'Shift+' : '') + e.key});
    }
  });
  poll();
})();
