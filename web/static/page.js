// Small page helpers; every page works without them.
(function () {
  "use strict";
  // A page restored from the back/forward cache (after signing out, say) is asked for
  // again: the server then answers with the sign-in page instead of personal data.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { window.location.reload(); }
  });
  // Browsers without ::details-content: keep the menu open on a wide screen.
  var wide = window.matchMedia("(min-width: 900px)");
  function sync() {
    if (!wide.matches || CSS.supports("selector(::details-content)")) { return; }
    document.querySelectorAll("details.menu").forEach(function (menu) { menu.open = true; });
  }
  sync();
  wide.addEventListener("change", sync);
})();
