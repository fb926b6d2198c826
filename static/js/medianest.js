// The few behaviours htmx attributes cannot express. No inline scripts: the CSP forbids them.
(function () {
  "use strict";

  function flash(message, kind) {
    var area = document.getElementById("flash");
    if (!area) return;
    var p = document.createElement("p");
    p.className = "notice notice-" + (kind || "error");
    p.textContent = message;
    area.appendChild(p);
  }

  document.addEventListener("htmx:sendError", function () {
    flash("MediaNest could not be reached. Check your connection and try again.");
  });

  document.addEventListener("htmx:timeout", function () {
    flash("The server took too long to answer. Try again.");
  });

  // Close the phone menu after a navigation click.
  document.addEventListener("click", function (event) {
    var toggle = document.getElementById("nav-toggle");
    if (toggle && event.target.closest && event.target.closest(".mainnav a")) toggle.checked = false;
  });

  // Buttons with data-confirm ask before submitting their form (works without htmx too).
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  }, true);
})();
