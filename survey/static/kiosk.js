// Kiosk tablet at a counter (?mode=kiosk): each citizen gets a fresh, empty form, and nobody sees the
// previous citizen's answers. After the thank-you page and after a form is left idle, the tablet goes
// to a fresh form with location.replace, so the pages left behind are not in the Back history; a page
// brought back from the back-forward cache is replaced too. Server-side, the form is never cached
// (Cache-Control: no-store) and a form already sent leads to the thank-you page.
(function () {
  "use strict";

  function countdown(box, seconds, done) {
    var left = seconds;
    var shown = box.querySelector("[data-countdown]");
    if (shown) { shown.textContent = String(left); }
    var timer = setInterval(function () {
      left -= 1;
      if (shown) { shown.textContent = String(Math.max(left, 0)); }
      if (left <= 0) { clearInterval(timer); done(); }
    }, 1000);
    return timer;
  }

  var page = document.querySelector("[data-return-url]");
  if (!page) { return; }
  var fresh = page.getAttribute("data-return-url");
  function leave() { location.replace(fresh); }
  window.addEventListener("pageshow", function (event) { if (event.persisted) { leave(); } });

  if (page.tagName !== "DIALOG") {  // the thank-you page
    page.querySelector(".kiosk-countdown").hidden = false;
    countdown(page, parseInt(page.getAttribute("data-return-seconds"), 10), leave);
    return;
  }

  var dialog = page;
  var form = document.getElementById("survey-form");
  var idleMs = parseInt(dialog.getAttribute("data-idle-seconds"), 10) * 1000;
  var warnSeconds = parseInt(dialog.getAttribute("data-warn-seconds"), 10);
  // An untouched form reloads itself now and then, so that its nonce never expires on the tablet.
  setTimeout(function () { if (!answered()) { leave(); } },
             parseInt(dialog.getAttribute("data-renew-seconds"), 10) * 1000);
  var idleTimer = null;
  var warnTimer = null;

  function answered() {
    return Array.prototype.some.call(form.elements, function (el) {
      if (el.type === "radio" || el.type === "checkbox") { return el.checked; }
      return el.type !== "hidden" && el.type !== "submit" && el.name !== "website" && el.value !== "";
    });
  }

  function arm() {
    clearTimeout(idleTimer);
    if (!dialog.open) { idleTimer = setTimeout(warn, idleMs); }
  }

  function warn() {
    if (!answered()) { arm(); return; }
    dialog.showModal();
    warnTimer = countdown(dialog, warnSeconds, leave);
  }

  // "Continue", or Esc, closes the dialog: the answers stay and the idle clock starts again.
  dialog.querySelector("[data-continue]").addEventListener("click", function () { dialog.close(); });
  dialog.addEventListener("close", function () { clearInterval(warnTimer); arm(); });
  ["input", "change", "pointerdown", "keydown", "scroll"].forEach(function (name) {
    window.addEventListener(name, arm, {passive: true});
  });
  arm();
}());
