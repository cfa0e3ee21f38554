// Kiosk tablet at a counter: after the thank-you page, a fresh empty form for the next citizen.
// location.replace keeps the previous citizen's pages out of the Back history.
(function () {
  "use strict";
  var thanks = document.querySelector("[data-return-url]");
  if (!thanks) { return; }
  var left = parseInt(thanks.getAttribute("data-return-seconds"), 10);
  var shown = thanks.querySelector("[data-countdown]");
  thanks.querySelector(".kiosk-countdown").hidden = false;
  var timer = setInterval(function () {
    left -= 1;
    if (shown) { shown.textContent = String(Math.max(left, 0)); }
    if (left <= 0) {
      clearInterval(timer);
      location.replace(thanks.getAttribute("data-return-url"));
    }
  }, 1000);
}());
