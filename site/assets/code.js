/* infernav code views: line anchors and range permalinks on highlighted excerpts.
 * Click a line number: the address becomes #<file>-L<n>. Shift-click another: #<file>-L<a>-L<b>,
 * the range is marked, and the excerpt's "upstream" link points at the same lines (#La-Lb).
 * Opening such an address marks the range and scrolls to it. No upstream text is written here.
 */
(function () {
  "use strict";
  var last = null;

  function parse(hash) {
    var m = /^#(.+?)-L(\d+)(?:-L(\d+))?$/.exec(hash || "");
    if (!m) { return null; }
    var a = Number(m[2]), b = Number(m[3] || m[2]);
    return { file: m[1], from: Math.min(a, b), to: Math.max(a, b) };
  }

  function mark(r) {
    document.querySelectorAll(".inav-line.sel").forEach(function (el) { el.classList.remove("sel"); });
    if (!r) { return null; }
    var first = null;
    for (var n = r.from; n <= r.to; n++) {
      var el = document.getElementById(r.file + "-L" + n);
      if (el) { el.classList.add("sel"); first = first || el; }
    }
    if (first) {
      var box = first.closest(".inav-code"), up = box && box.getAttribute("data-upstream");
      var head = box && box.previousElementSibling;
      var link = head && head.querySelector("a.inav-upstream");
      if (up && link) { link.href = up + "#L" + r.from + (r.to > r.from ? "-L" + r.to : ""); }
    }
    return first;
  }

  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest(".inav-code a.ln");
    if (!a) { return; }
    e.preventDefault();
    var r = parse(a.getAttribute("href"));
    if (e.shiftKey && last && last.file === r.file) {
      r = { file: r.file, from: Math.min(last.from, r.from), to: Math.max(last.from, r.from) };
    } else {
      last = r;
    }
    var hash = "#" + r.file + "-L" + r.from + (r.to > r.from ? "-L" + r.to : "");
    window.history.replaceState(null, "", hash);
    mark(r);
  });

  function fromHash() {
    var el = mark(parse(window.location.hash));
    if (el) { el.scrollIntoView({ block: "center" }); }
  }
  window.addEventListener("hashchange", fromHash);
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fromHash); }
  else { fromHash(); }
})();
