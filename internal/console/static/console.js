// customs console: small enhancements; every page works without them.
(function () {
  "use strict";
  // A list with queued or running scans reloads itself while the tab is
  // visible, keeping the keyboard focus where it was.
  var live = document.querySelector("[data-refresh]");
  if (live) {
    var secs = Math.max(2, parseInt(live.getAttribute("data-refresh"), 10) || 3);
    setTimeout(function tick() {
      if (document.hidden) { setTimeout(tick, secs * 1000); return; }
      fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var doc = new DOMParser().parseFromString(html, "text/html");
          var next = doc.getElementById(live.id);
          if (!next) { return; }
          var focused = document.activeElement && document.activeElement.closest("#" + live.id) ? document.activeElement.getAttribute("formaction") : null;
          live.replaceWith(next);
          live = next;
          if (focused !== null) { live.focus(); }
          if (live.hasAttribute("data-refresh")) { setTimeout(tick, secs * 1000); }
        })
        .catch(function () { setTimeout(tick, secs * 4000); });
    }, secs * 1000);
  }
  // "Scan selected" is enabled only with a selection.
  var form = document.getElementById("scan-form");
  var selected = document.getElementById("scan-selected");
  if (form && selected) {
    var update = function () {
      var n = form.querySelectorAll('input[name="image"]:checked').length;
      selected.disabled = n === 0;
      selected.textContent = n ? "Scan selected (" + n + ")" : "Scan selected";
    };
    form.addEventListener("change", update);
    update();
  }
  // Filters apply as soon as a select or checkbox changes.
  document.querySelectorAll("form.filters select, form.filters input[type=checkbox]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
})();
