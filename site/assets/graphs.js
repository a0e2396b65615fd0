/* infernav graphs: draws every .inav-graph (analyzer/site/mechanisms.py graph_box) with the
 * vendored Mermaid, in strict security mode, at a readable size (never shrunk below 80 %; the box
 * scrolls instead), with zoom buttons, dark-mode colours (redrawn when the palette toggles) and
 * each node a link (data-links: Mermaid node id -> relative URL). Not Material's .mermaid
 * pipeline, whose closed shadow root allows neither zoom nor links.
 */
(function () {
  "use strict";
  var MIN_FIT = 0.8;

  function dark() { return document.body.getAttribute("data-md-color-scheme") === "slate"; }

  function setScale(box, s) {
    var svg = box.querySelector(".inav-graph-view svg");
    if (!svg) { return; }
    var w = Number(box.getAttribute("data-w")), h = Number(box.getAttribute("data-h"));
    box.setAttribute("data-scale", String(s));
    svg.style.width = Math.round(w * s) + "px";
    svg.style.height = Math.round(h * s) + "px";
    svg.style.maxWidth = "none";
  }

  function fit(box) {
    var view = box.querySelector(".inav-graph-view");
    var w = Number(box.getAttribute("data-w")) || 1;
    return Math.max(MIN_FIT, Math.min(1.25, (view.clientWidth - 8) / w));
  }

  function linkNodes(box, svg) {
    var links = {};
    try { links = JSON.parse(box.getAttribute("data-links") || "{}"); } catch (e) { links = {}; }
    svg.querySelectorAll("g.node").forEach(function (g) {
      var m = /flowchart-([A-Za-z0-9_]+)-\d+$/.exec(g.id || "");
      var url = m && links[m[1]];
      if (!url || /^[a-z][a-z0-9+.-]*:/i.test(url)) { return; }   // relative URLs only
      g.classList.add("inav-link");
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "link");
      var go = function () { window.location.href = url; };
      g.addEventListener("click", go);
      g.addEventListener("keydown", function (e) { if (e.key === "Enter") { go(); } });
    });
  }

  function showAnchor(view, svg) {
    // A graph wider than its box (400 px): scroll to the first anchored node (thick border,
    // render.py's `style ... stroke-width:3px`), so the box opens on what the notes explain.
    if (view.scrollWidth <= view.clientWidth + 4) { return; }
    var shape = [].find.call(svg.querySelectorAll("g.node [style]"), function (e) {
      return /stroke-width:\s*3px/.test(e.getAttribute("style"));
    });
    if (!shape) { return; }
    var r = shape.getBoundingClientRect(), v = view.getBoundingClientRect();
    view.scrollLeft += r.left - v.left - Math.max(8, (v.width - r.width) / 2);
    view.scrollTop += r.top - v.top - Math.max(8, (v.height - r.height) / 3);
  }

  var queue = Promise.resolve(), counter = 0;

  function draw(box) {
    var src = box.querySelector(".inav-graph-src").textContent;
    var view = box.querySelector(".inav-graph-view");
    queue = queue.then(function () {
      return mermaid.render("inav-graph-" + (counter++), src);
    }).then(function (out) {
      view.innerHTML = out.svg;            // strict mode: Mermaid sanitizes its own output
      var svg = view.querySelector("svg");
      var vb = svg.viewBox && svg.viewBox.baseVal;
      box.setAttribute("data-w", String(vb && vb.width || svg.getBoundingClientRect().width));
      box.setAttribute("data-h", String(vb && vb.height || svg.getBoundingClientRect().height));
      view.classList.add("mermaid");         // the class the site's tests look for
      linkNodes(box, svg);
      setScale(box, fit(box));
      showAnchor(view, svg);
    }).catch(function (e) {
      view.textContent = "This graph could not be drawn: " + (e && e.message || e);
    });
  }

  function drawAll() {
    var boxes = document.querySelectorAll(".inav-graph");
    if (!boxes.length || typeof mermaid === "undefined") { return; }
    mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: dark() ? "dark" : "default",
      fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace",
      themeVariables: { fontSize: "14px" }, flowchart: { useMaxWidth: false, htmlLabels: false } });
    boxes.forEach(draw);
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest(".inav-graph-tools button");
    if (!b) { return; }
    var box = b.closest(".inav-graph"), s = Number(box.getAttribute("data-scale")) || 1;
    var z = b.getAttribute("data-zoom");
    setScale(box, z === "in" ? s * 1.25 : z === "out" ? s / 1.25 : z === "fit" ? fit(box) : 1);
  });

  function start() {
    drawAll();
    new MutationObserver(function () { drawAll(); })
      .observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
