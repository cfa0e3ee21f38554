// Optional: hides questions that do not apply to the answers given so far. The server decides what
// counts; without this file every question shows with a note saying when it applies. Hidden
// questions' inputs are disabled so that nothing from them is sent.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var form = document.querySelector(".survey-form");
  if (!form) { return; }
  var conditional = form.querySelectorAll("[data-show-if-item]");

  function chosen(name) {
    var codes = [];
    form.querySelectorAll("input[name='" + name + "']:checked:not(:disabled)").forEach(function (input) {
      codes.push(input.value);
    });
    return codes;
  }

  function update() {
    conditional.forEach(function (block) {
      var wanted = block.getAttribute("data-show-if-in").split(" ");
      var show = chosen(block.getAttribute("data-show-if-item")).some(function (code) {
        return wanted.indexOf(code) !== -1;
      });
      block.hidden = !show;
      block.querySelectorAll("input, textarea, select").forEach(function (input) { input.disabled = !show; });
    });
  }

  function limitChoices(event) {
    var box = event.target.closest("[data-max-choices]");
    if (!box || event.target.type !== "checkbox") { return; }
    var max = parseInt(box.getAttribute("data-max-choices"), 10);
    if (box.querySelectorAll("input:checked").length > max) { event.target.checked = false; }
  }

  // Back to a page that answered a post (errors, language) GETs the form, not a resend.
  if (window.history && history.replaceState) { history.replaceState(null, "", form.action); }
  form.addEventListener("change", function (event) { limitChoices(event); update(); });
  update();
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
}());
