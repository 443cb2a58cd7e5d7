// The report form on a phone: quick choices for the episode time (now, today, yesterday) and the statement
// fields shown for an episode without a URL. Without JavaScript every field is simply shown.
(function () {
  "use strict";
  var field = document.getElementById("episode_at");
  var quick = document.getElementById("quick-times");
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function shown(d) {
    return pad(d.getDate()) + "." + pad(d.getMonth() + 1) + "." + d.getFullYear() + " " + pad(d.getHours()) + "." + pad(d.getMinutes());
  }
  if (field && quick) {
    quick.hidden = false;
    quick.addEventListener("click", function (ev) {
      var button = ev.target.closest("button[data-day]");
      if (!button) return;
      var now = new Date();
      var when = new Date(now.getTime());
      var typed = /(\d{1,2})[.:](\d{2})\s*$/.exec(field.value || "");
      if (!button.dataset.now && typed) { when.setHours(+typed[1], +typed[2], 0, 0); }
      when.setDate(when.getDate() + Number(button.dataset.day));
      if (when > now) { when = now; }
      field.value = shown(when);
      field.focus();
    });
  }
  var statement = document.getElementById("statement-fields");
  var kinds = document.querySelectorAll("input[name=kind]");
  function update() {
    var chosen = document.querySelector("input[name=kind]:checked");
    var online = !chosen || chosen.value === "url";
    var filled = statement && Array.prototype.some.call(statement.querySelectorAll("input, textarea"), function (e) { return e.value; });
    if (statement) statement.hidden = online && !filled && !statement.querySelector(".has-error");
  }
  Array.prototype.forEach.call(kinds, function (k) { k.addEventListener("change", update); });
  update();
})();
