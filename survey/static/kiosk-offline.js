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

  // Offline nobody can check the form but the tablet, and the citizen is gone before the server could
  // refuse it: a required question left empty (or a number out of range) is pointed at here, before
  // the answer is queued, with the summary and field errors the server would show. They are rendered
  // into the page in its language (#kiosk-offline-errors, templates/survey/macros.html): this file
  // carries no wording of its own.
  var form = document.getElementById("survey-form");
  var errors = document.getElementById("kiosk-offline-errors");
  if (!form || !errors) { return; }

  function controls(item) {
    return Array.prototype.filter.call(item.querySelectorAll("input, select, textarea"),
                                       function (control) { return !control.disabled; });
  }
  function answered(item) {
    return controls(item).some(function (control) {
      return /^(radio|checkbox)$/.test(control.type) ? control.checked : control.value.trim() !== "";
    });
  }
  // The element whose description names the error, as the server marks it: a choice question's
  // fieldset, else its box.
  function described(item) { return item.tagName === "FIELDSET" ? item : controls(item)[0]; }

  // The template's entries are in the questionnaire's order, the order of the server's summary. A
  // question hidden by survey.js does not apply, as on the server.
  function problems() {
    var found = [];
    errors.content.querySelectorAll("li[data-item]").forEach(function (entry) {
      var item = document.getElementById("item-" + entry.getAttribute("data-item"));
      if (!item || item.hidden || controls(item).length === 0) { return; }
      var code = entry.getAttribute("data-error-code");
      var wrong = code === "E-REQUIRED" ? !answered(item) : answered(item) && controls(item).some(
        function (control) { return !control.validity.valid; });
      if (wrong) { found.push({item: item, entry: entry, code: code}); }
    });
    return found;
  }

  // The previous check's errors, or those of the server's page the form came back on.
  function clear() {
    var summary = document.getElementById("error-summary");
    if (summary) { summary.parentNode.removeChild(summary); }
    form.querySelectorAll(".field-error").forEach(function (line) { line.parentNode.removeChild(line); });
    form.querySelectorAll(".has-error").forEach(function (item) {
      var target = described(item);
      var ids = target ? (target.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
        return id && id !== "err-" + item.id.slice("item-".length);
      }) : [];
      if (ids.length) { target.setAttribute("aria-describedby", ids.join(" ")); }
      else if (target) { target.removeAttribute("aria-describedby"); }
      item.classList.remove("has-error");
      item.removeAttribute("tabindex");
    });
  }

  function mark(problem) {
    var item = problem.item;
    var id = "err-" + item.id.slice("item-".length);
    var line = errors.content.querySelector('[id="' + id + '"][data-error-code="' + problem.code + '"]');
    var before = item.querySelector(".options, select, .text-input");  // where the server puts it
    before.parentNode.insertBefore(line.cloneNode(true), before);
    item.classList.add("has-error");
    item.setAttribute("tabindex", "-1");
    var target = described(item);
    target.setAttribute("aria-describedby", ((target.getAttribute("aria-describedby") || "") + " " + id).trim());
  }

  function summarise(found) {
    var summary = errors.content.querySelector(".error-summary").cloneNode(true);
    var list = summary.querySelector("ul");
    list.textContent = "";
    found.forEach(function (problem) { list.appendChild(problem.entry.cloneNode(true)); });
    summary.setAttribute("data-error-code", found[0].code);  // the first error's code, as the server's
    summary.querySelector(".error-code code").textContent = found[0].code;
    // A link leads to its question's first answer, ready to be chosen (the server's page leads to the
    // question, which a finger or a keyboard must then enter): the question is scrolled to its top so
    // that its text shows above the answer.
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var target = link && document.getElementById(link.getAttribute("href").slice(1));
      var item = target && target.closest(".item");
      if (!item) { return; }
      event.preventDefault();
      item.scrollIntoView();
      controls(item)[0].focus({preventScroll: true});
    });
    errors.parentNode.insertBefore(summary, errors);
    summary.focus();
  }

  form.addEventListener("submit", function (event) {
    // The language switch sends the form too, unchecked (formnovalidate), as online.
    if (navigator.onLine || (event.submitter && event.submitter.formNoValidate)) { return; }
    var found = problems();
    if (found.length === 0) { return; }
    event.preventDefault();
    clear();
    found.forEach(mark);
    summarise(found);
  });
}());
