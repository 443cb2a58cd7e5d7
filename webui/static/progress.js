// Live progress of captures and of packages/reports being built: poll each unfinished one's status
// and reload when one finishes.
(function () {
  var pending = document.querySelectorAll(
    'section.evidence[data-finished="false"], .export-job[data-finished="false"]');
  if (!pending.length) return;
  function poll() {
    var waits = [];
    pending.forEach(function (el) {
      waits.push(fetch(el.getAttribute('data-status-url'), {credentials: 'same-origin'})
        .then(function (r) { return r.ok ? r.json() : {finished: false}; })
        .catch(function () { return {finished: false}; }));
    });
    Promise.all(waits).then(function (results) {
      if (results.some(function (r) { return r.finished; })) { window.location.reload(); }
      else { setTimeout(poll, 1500); }
    });
  }
  setTimeout(poll, 1500);
})();
