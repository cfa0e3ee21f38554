// A registered counter tablet's pages (docs/kiosk.md, "Offline"): register the service worker
// (kiosk-sw.js), ask it to keep what an offline form needs and to send the answers queued offline
// (now, on `online`, every 30 s), and show the staff how many answers are waiting. Only the tablet's
// own pages load this file; without service workers or JavaScript the tablet works as before.
(function () {
  "use strict";
  var box = document.getElementById("kiosk-queue");
  if (!box || !("serviceWorker" in navigator) || !("indexedDB" in window)) { return; }
  function data(name) { return box.getAttribute("data-" + name); }

  function assets() {
    var urls = [];
    document.querySelectorAll("link[rel=stylesheet][href], script[src]").forEach(function (el) {
      urls.push(el.getAttribute("href") || el.getAttribute("src"));
    });
    return urls;
  }

  function show(status) {
    var lines = [];
    if (status.waiting) { lines.push(data("waiting").replace("{n}", String(status.waiting))); }
    if (status.failed) { lines.push(data("failed").replace("{n}", String(status.failed))); }
    box.textContent = lines.join(" · ");
    box.hidden = lines.length === 0;
    box.setAttribute("data-waiting-count", String(status.waiting));
    if (status.ready) { box.setAttribute("data-ready", "1"); }
  }

  function tell(type) {
    navigator.serviceWorker.ready.then(function (registration) {
      if (!registration.active) { return; }
      registration.active.postMessage({type: type, queue: data("queue"), nonces: data("nonces"),
                                       form: data("form"), thanks: data("thanks"), assets: assets()});
    });
  }

  navigator.serviceWorker.addEventListener("message", function (event) {
    if (event.data && event.data.type === "queue") { show(event.data); }
  });
  navigator.serviceWorker.register(data("worker"), {scope: "/"}).then(function () { tell("prepare"); },
                                                                         function () {});
  // `online` may come a moment before the connection carries anything (here, before the worker's own
  // requests can go out): try again shortly after.
  window.addEventListener("online", function () {
    [0, 2000, 6000].forEach(function (delay) { setTimeout(function () { tell("sync"); }, delay); });
  });
  setInterval(function () { tell("sync"); }, 30000);

  // Offline nobody can check the form but the tablet: a required question left empty is pointed at
  // here, before the answer is queued (the server would refuse it later, and the citizen is gone).
  var form = document.getElementById("survey-form");
  if (!form) { return; }
  form.addEventListener("submit", function (event) {
    if (navigator.onLine || form.checkValidity()) { return; }
    event.preventDefault();
    var first = form.querySelector(":invalid");
    var alert = document.getElementById("kiosk-offline-required");
    alert.hidden = false;
    if (first) { first.focus(); }
  });
}());
