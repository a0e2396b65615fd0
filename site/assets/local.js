/* Opened from disk (file://): directory URLs, the explorer's data and the search index need a web
 * server. Say so at the top of every page instead of failing quietly. */
(function () {
  "use strict";
  if (window.location.protocol !== "file:") { return; }
  function note() {
    var main = document.querySelector(".md-content__inner") || document.body;
    var p = document.createElement("p");
    p.className = "inav-local";
    p.textContent = "This page was opened from disk. The explorer, search and links between pages need a " +
      "web server: run `make serve` in the checkout (or `python3 -m http.server -d public`) and open " +
      "http://127.0.0.1:8000/.";
    main.insertBefore(p, main.firstChild);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", note); } else { note(); }
})();
