// Cachalot console: progressive enhancement only. Every page works without
// this script; with it, statuses refresh without reloading and a few
// selects act at once.
(function () {
  "use strict";
  // The region selector switches on change and comes back to this page.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
    var form = sel.form;
    var next = form.querySelector("input[name=next]");
    if (next) { next.value = location.pathname + location.search; }
    var btn = form.querySelector("button");
    if (btn) { btn.hidden = true; }
    sel.addEventListener("change", function () { form.submit(); });
  });
  // Cache statuses: poll while any shown status is not final.
  var finals = { "available": 1, "deleted": 1, "incompatible-network": 1, "restore-failed": 1, "create-failed": 1, "incompatible-parameters": 1 };
  function cls(s) {
    if (s === "available") { return "ok"; }
    if (s === "creating" || s === "modifying" || s.indexOf("rebooting") === 0 || s === "snapshotting") { return "progress"; }
    return "bad";
  }
  function poll() {
    var els = document.querySelectorAll("[data-cache][data-polling]");
    if (els.length === 0) { return; }
    var q = [];
    els.forEach(function (el) { q.push("id=" + encodeURIComponent(el.getAttribute("data-cache"))); });
    fetch("/console/elasticache/caches/status?" + q.join("&"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (st) {
        if (st) {
          els.forEach(function (el) {
            var s = st[el.getAttribute("data-cache")];
            if (s === undefined) { return; }
            el.textContent = s;
            el.className = "status " + cls(s);
            if (finals[s]) {
              el.removeAttribute("data-polling");
              if (el.id === "cache-status") { refreshMain(); }
            }
          });
        }
        setTimeout(poll, 1500);
      }, function () { setTimeout(poll, 3000); });
  }
  // A cache's details page that reached a final status refreshes its
  // content (nodes, endpoints) in place: same document, no reload.
  function refreshMain() {
    fetch(location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        var main = document.querySelector("main");
        if (fresh && main) { main.innerHTML = fresh.innerHTML; }
      });
  }
  setTimeout(poll, 1000);
  // Inbound rule editor: a type with a fixed port fills it; Anywhere fills
  // the source.
  var type = document.getElementById("type"), port = document.getElementById("port");
  if (type && port) {
    type.addEventListener("change", function () {
      var p = type.options[type.selectedIndex].getAttribute("data-port");
      port.value = p || "";
      port.readOnly = !!p;
    });
  }
  var source = document.getElementById("source"), cidr = document.getElementById("cidr");
  if (source && cidr) {
    source.addEventListener("change", function () {
      if (source.value === "anywhere-ipv4") { cidr.value = "0.0.0.0/0"; }
      else if (source.value === "anywhere-ipv6") { cidr.value = "::/0"; }
    });
  }
})();
