/* infernav call-graph explorer: a client-side view over explorer/data/<framework>.json.
 *
 * Data: nodes[i] = [name, kind, fileIndex, line, endLine, symbolPageUrl|0, inTestCode];
 * edges = flat [src, dst, resolution, src, dst, resolution, ...]; resolutions[code] = label;
 * rank[code] = display order (exact, flow, type, dispatch, guess: analyzer/query/ranking.py);
 * fanouts = [[src, label, [dst, ...]], ...]: one call reaching many overrides, one node.
 * URL: ?fw=<engine>&sym=<canonical name> (not ?q=, which Material's search reads; an old ?q=
 * link is rewritten before Material loads).
 * Narrow screens (<= 600 px): the ranked neighbour list (#inav-list) is the view, the graph is
 * behind #inav-graph-toggle and draws only the first NARROW_CAP entries each way.
 * Upstream text (names, source) is only ever put into the page with textContent.
 */
(function () {
  "use strict";
  (function () {  // old ?q= links: rename before Material's search reads q and opens its overlay
    var u = new URL(window.location.href);
    if (u.searchParams.has("q") && document.getElementById("inav-explorer")) {
      u.searchParams.set("sym", u.searchParams.get("q"));
      u.searchParams.delete("q");
      window.history.replaceState(null, "", u.toString());
    }
  })();
  var CAP = 40, NARROW_CAP = 12;
  var root = document.getElementById("inav-explorer");
  if (!root || typeof cytoscape === "undefined") { return; }
  var frameworks = (root.getAttribute("data-frameworks") || "").split(",").filter(Boolean);
  var fwSelect = document.getElementById("inav-fw");
  var input = document.getElementById("inav-q");
  var hitsList = document.getElementById("inav-hits");
  var panel = document.getElementById("inav-panel");
  var testsBox = document.getElementById("inav-tests");
  var listBox = document.getElementById("inav-list");
  var toggle = document.getElementById("inav-graph-toggle");
  var narrowQ = window.matchMedia ? window.matchMedia("(max-width: 600px)") : null;
  var narrow = function () { return !!(narrowQ && narrowQ.matches); };
  var cap = function () { return narrow() ? NARROW_CAP : CAP; };
  var COLORS = ["#2e7d32", "#0277bd", "#6a1b9a", "#ef6c00", "#c62828"];
  var dark = function () { return document.body.getAttribute("data-md-color-scheme") === "slate"; };
  var data = null, outAdj = null, inAdj = null, lowerNames = null, fwName = null, fanOf = null;
  var cy = cytoscape({
    container: document.getElementById("inav-graph"),
    wheelSensitivity: 0.3,
    style: [
      { selector: "node", style: { "label": "data(label)", "font-size": 11, "text-valign": "bottom",
        "background-color": "#5c6bc0", "width": 14, "height": 14, "color": dark() ? "#e0e0e0" : "#222",
        "text-background-color": dark() ? "#1e2129" : "#fff", "text-background-opacity": 0.75,
        "text-background-padding": 1 } },
      { selector: "node.fanout", style: { "shape": "round-rectangle", "background-color": "#ef6c00",
        "width": 22, "height": 12 } },
      { selector: "node.focus", style: { "background-color": "#d81b60", "width": 20, "height": 20 } },
      { selector: "node.expanded", style: { "border-width": 2, "border-color": "#222" } },
      { selector: "edge", style: { "width": 1.5, "curve-style": "bezier", "target-arrow-shape": "triangle",
        "line-color": "data(color)", "target-arrow-color": "data(color)", "label": "data(res)",
        "font-size": 8, "text-rotation": "autorotate", "color": dark() ? "#aaa" : "#666" } }
    ]
  });

  function shortLabel(name) {
    var parts = name.replace(/::/g, ".").split(".");
    return parts.slice(-2).join(".");
  }

  function load(fw) {
    fwName = fw;
    cy.elements().remove();
    panel.textContent = "Loading " + fw + " …";
    return fetch("data/" + encodeURIComponent(fw) + ".json").then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (d) {
      data = d;
      outAdj = data.nodes.map(function () { return []; });
      inAdj = data.nodes.map(function () { return []; });
      for (var i = 0; i < d.edges.length; i += 3) {
        outAdj[d.edges[i]].push([d.edges[i + 1], d.edges[i + 2]]);
        inAdj[d.edges[i + 1]].push([d.edges[i], d.edges[i + 2]]);
      }
      var rank = d.rank || [0, 2, 1, 3, 4];
      var byRank = function (a, b) { return rank[a[1]] - rank[b[1]] || (d.nodes[a[0]][0] < d.nodes[b[0]][0] ? -1 : 1); };
      outAdj.forEach(function (l) { l.sort(byRank); });
      inAdj.forEach(function (l) { l.sort(byRank); });
      fanOf = {};
      (d.fanouts || []).forEach(function (f) { (fanOf[f[0]] = fanOf[f[0]] || []).push(f); });
      lowerNames = d.nodes.map(function (n) { return n[0].toLowerCase(); });
      panel.textContent = d.framework + ": " + d.nodes.length + " symbols, " + (d.edges.length / 3) +
        " call edges. Search a symbol to start.";
    }).catch(function (e) { panel.textContent = "Could not load the graph of " + fw + ": " + e.message; });
  }

  function search(q) {
    hitsList.textContent = "";
    if (!data || q.length < 2) { return; }
    var ql = q.toLowerCase(), exact = [], prefix = [], other = [];
    for (var i = 0; i < lowerNames.length && exact.length + prefix.length + other.length < 400; i++) {
      var n = lowerNames[i];
      if (n.indexOf(ql) < 0) { continue; }
      if (n === ql || n.endsWith("." + ql) || n.endsWith("::" + ql)) { exact.push(i); }
      else if (data.nodes[i][0].toLowerCase().split(/[.:]/).pop().indexOf(ql) === 0) { prefix.push(i); }
      else { other.push(i); }
    }
    exact.concat(prefix, other).slice(0, 30).forEach(function (i) {
      var li = document.createElement("li");
      li.textContent = data.nodes[i][0];
      li.setAttribute("data-id", String(i));
      li.title = data.nodes[i][1];
      li.addEventListener("click", function () { hitsList.textContent = ""; focus(i); });
      hitsList.appendChild(li);
    });
  }

  function addNode(i) {
    var id = "n" + i;
    if (cy.getElementById(id).length === 0) {
      cy.add({ group: "nodes", data: { id: id, idx: i, label: shortLabel(data.nodes[i][0]) } });
    }
    return cy.getElementById(id);
  }

  function addEdge(a, b, res) {
    var id = "e" + a + "_" + b;
    if (cy.getElementById(id).length === 0) {
      cy.add({ group: "edges", data: { id: id, source: "n" + a, target: "n" + b,
        res: data.resolutions[res], color: COLORS[res] } });
    }
  }

  function shown(e) { return testsBox && testsBox.checked || !data.nodes[e[0]][6]; }

  function entries(i) {
    // Callees ranked, each fan-out one entry in place of its first member; tests out unless asked.
    var fans = fanOf[i] || [], member = {}, out = [];
    fans.forEach(function (f, k) { f[2].forEach(function (d) { member[d] = k; }); });
    var placed = {};
    outAdj[i].filter(shown).forEach(function (e) {
      var k = member[e[0]];
      if (k === undefined || data.rank[e[1]] < 3) { out.push({ node: e[0], res: e[1] }); }
      else if (!placed[k]) { placed[k] = 1; out.push({ fan: fans[k], res: e[1], k: k }); }
    });
    return out;
  }

  function addFan(i, f, k, res) {
    var id = "f" + i + "_" + k;
    if (cy.getElementById(id).length === 0) {
      cy.add({ group: "nodes", classes: "fanout", data: { id: id, fanSrc: i, fanK: k, label: f[1] } });
      cy.add({ group: "edges", data: { id: "e" + i + "_" + id, source: "n" + i, target: id,
        res: data.resolutions[res], color: COLORS[res] } });
    }
  }

  function narrowLayout() {
    // One star as a tree that reads top to bottom: callers, the focus, its callees in rank order,
    // each label to the right of its node (a circle of 25 labels at 400 px overlaps).
    var f = cy.nodes(".focus")[0];
    if (!f) { return; }
    var y = 0, STEP = 28, callers = f.incomers("node");
    callers.forEach(function (n) { n.position({ x: 40, y: y }); y += STEP; });
    f.position({ x: 0, y: y });
    y += STEP;
    f.outgoers("node").difference(callers).forEach(function (n) { n.position({ x: 40, y: y }); y += STEP; });
    cy.fit(undefined, 8);
    if (cy.zoom() > 1.2) { cy.zoom(1.2); cy.pan({ x: 8, y: 8 }); }
  }

  function narrowStyle() {
    if (!narrow()) { return; }
    cy.style().selector("node").style({ "text-valign": "center", "text-halign": "right", "text-margin-x": 6,
      "font-size": 12 }).selector("edge").style({ "label": "", "curve-style": "taxi", "taxi-direction": "horizontal" })
      .update();
  }

  function layout() {
    if (narrow()) { narrowLayout(); return; }
    cy.layout({ name: "concentric", animate: false, minNodeSpacing: 18, avoidOverlap: true,
      concentric: function (n) { return n.hasClass("focus") ? 3 : n.hasClass("expanded") ? 2 : 1; },
      levelWidth: function () { return 1; } }).run();
  }

  function expand(i) {
    var node = addNode(i);
    if (node.hasClass("expanded")) { return; }
    node.addClass("expanded");
    entries(i).slice(0, cap()).forEach(function (e) {
      if (e.fan) { addFan(i, e.fan, e.k, e.res); } else { addNode(e.node); addEdge(i, e.node, e.res); }
    });
    inAdj[i].filter(shown).slice(0, cap()).forEach(function (e) { addNode(e[0]); addEdge(e[0], i, e[1]); });
    layout();
  }

  function openFan(n) {
    var i = n.data("fanSrc"), f = fanOf[i][n.data("fanK")];
    var res = outAdj[i].filter(function (e) { return f[2].indexOf(e[0]) >= 0; });
    n.remove();
    res.forEach(function (e) { addNode(e[0]); addEdge(i, e[0], e[1]); });
    layout();
    root.setAttribute("data-nodes", String(cy.nodes().length));
  }

  function remember(i) {
    var u = new URL(window.location.href);
    u.searchParams.set("fw", fwName);
    u.searchParams.set("sym", data.nodes[i][0]);
    window.history.replaceState(null, "", u.toString());
  }

  function symUrl(i) {
    return "?fw=" + encodeURIComponent(fwName) + "&sym=" + encodeURIComponent(data.nodes[i][0]);
  }

  function listRow(i, res) {
    var li = document.createElement("li");
    var b = document.createElement("span");
    b.className = "inav-res r" + res;
    b.textContent = data.resolutions[res];
    var a = document.createElement("a");
    a.href = symUrl(i);
    a.textContent = shortLabel(data.nodes[i][0]).replace(/(\.|::)/g, "$1\u200b");   // wrap at dots only
    a.title = data.nodes[i][0];
    a.addEventListener("click", function (ev) {
      if (ev.ctrlKey || ev.metaKey || ev.shiftKey) { return; }
      ev.preventDefault();
      cy.elements().remove();
      focus(i);
      listBox.scrollIntoView({ block: "start" });
    });
    li.appendChild(b);
    li.appendChild(a);
    return li;
  }

  function fanRow(e) {
    var li = document.createElement("li");
    var det = document.createElement("details");
    var sum = document.createElement("summary");
    var b = document.createElement("span");
    b.className = "inav-res r" + e.res;
    b.textContent = data.resolutions[e.res];
    sum.appendChild(b);
    sum.appendChild(document.createTextNode(e.fan[1]));
    det.appendChild(sum);
    var ul = document.createElement("ul");
    outAdj[e.fan[0]].filter(function (x) { return e.fan[2].indexOf(x[0]) >= 0; })
      .forEach(function (x) { ul.appendChild(listRow(x[0], x[1])); });
    det.appendChild(ul);
    li.className = "inav-fanrow";
    li.appendChild(det);
    return li;
  }

  function listSection(title, list, more) {
    var h = document.createElement("h4");
    h.textContent = title + " (" + list.length + ")";
    listBox.appendChild(h);
    var ul = document.createElement("ul");
    ul.className = "inav-nb";
    list.slice(0, CAP).forEach(function (e) { ul.appendChild(e.fan ? fanRow(e) : listRow(e.node, e.res)); });
    if (!list.length) {
      var none = document.createElement("li");
      none.className = "inav-none";
      none.textContent = "none in the index";
      ul.appendChild(none);
    }
    if (list.length > CAP) {
      var li = document.createElement("li");
      li.className = "inav-none";
      li.textContent = "… and " + (list.length - CAP) + " more: infernav " + more;
      ul.appendChild(li);
    }
    listBox.appendChild(ul);
  }

  function renderList(i) {
    // The ranked neighbours as a list: exact, flow, type first; a fan-out one row that unfolds.
    if (!listBox) { return; }
    listBox.textContent = "";
    var head = document.createElement("p");
    head.className = "inav-list-head";
    var strong = document.createElement("strong");
    strong.textContent = shortLabel(data.nodes[i][0]);
    head.appendChild(strong);
    head.appendChild(document.createTextNode(": its calls and callers. Its symbol page link and source "
      + "are below the lists."));
    listBox.appendChild(head);
    listSection("Calls", entries(i), "callees " + data.nodes[i][0]);
    listSection("Called by", inAdj[i].filter(shown).map(function (e) { return { node: e[0], res: e[1] }; }),
      "callers " + data.nodes[i][0]);
  }

  function focus(i) {
    cy.nodes().removeClass("focus");
    addNode(i).addClass("focus");
    expand(i);
    renderList(i);
    show(i);
    remember(i);
    root.setAttribute("data-nodes", String(cy.nodes().length));
  }

  function show(i) {
    var n = data.nodes[i];
    panel.textContent = "";
    var h = document.createElement("h3");
    h.textContent = n[0].replace(/(\.|::)/g, "$1\u200b");   // break at dots, never mid-word
    panel.appendChild(h);
    var meta = document.createElement("p");
    var path = data.files[n[2]];
    meta.textContent = n[1] + " · " + path + ":" + n[3] + " · " + outAdj[i].length + " callees, " +
      inAdj[i].length + " callers";
    panel.appendChild(meta);
    var links = document.createElement("p");
    if (n[5]) {
      var a = document.createElement("a");
      a.href = "../" + n[5];
      a.textContent = "symbol page";
      links.appendChild(a);
      links.appendChild(document.createTextNode(" · "));
    }
    var up = document.createElement("a");
    up.href = data.permalink.replace("{version}", data.version).replace("{commit}", data.commit)
      .replace("{path}", encodeURI(path).replace(/[?#]/g, encodeURIComponent)).replace("{line}", String(n[3]));
    up.textContent = "upstream";
    links.appendChild(up);
    panel.appendChild(links);
    var pre = document.createElement("pre");
    pre.className = "inav-src";
    pre.textContent = "loading source …";
    panel.appendChild(pre);
    fetch("src/" + encodeURIComponent(fwName) + "/" + n[2] + ".json").then(function (r) {
      if (!r.ok) { throw new Error("no source in this build"); }
      return r.json();
    }).then(function (lines) {
      var last = Math.min(n[4], n[3] + 59), out = [];
      for (var k = n[3]; k <= last; k++) { out.push(String(k).padStart(5) + "  " + (lines[k - 1] || "")); }
      pre.textContent = out.join("\n");
    }).catch(function (e) { pre.textContent = e.message + "; follow the upstream link."; });
  }

  new MutationObserver(function () {   // the palette toggled: labels readable on the new background
    cy.style().selector("node").style({ "color": dark() ? "#e0e0e0" : "#222",
      "text-background-color": dark() ? "#1e2129" : "#fff" })
      .selector("edge").style({ "color": dark() ? "#aaa" : "#666" }).update();
  }).observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });

  cy.on("tap", "node", function (evt) {
    if (evt.target.hasClass("fanout")) { openFan(evt.target); return; }
    var i = evt.target.data("idx");
    if (narrow()) { cy.elements().remove(); focus(i); return; }   // narrow: always one readable star
    cy.nodes().removeClass("focus");
    evt.target.addClass("focus");
    expand(i);
    renderList(i);
    show(i);
    remember(i);
    root.setAttribute("data-nodes", String(cy.nodes().length));
  });
  narrowStyle();
  if (toggle) {
    toggle.addEventListener("click", function () {
      var open = !root.classList.contains("inav-graph-open");
      root.classList.toggle("inav-graph-open", open);
      toggle.setAttribute("aria-expanded", String(open));
      toggle.textContent = open ? "Hide the graph" : "Show the graph";
      if (open) { cy.resize(); layout(); }
    });
  }
  if (testsBox) {
    testsBox.addEventListener("change", function () {
      var f = cy.nodes(".focus")[0];
      if (f) { var i = f.data("idx"); cy.elements().remove(); focus(i); }
    });
  }
  input.addEventListener("input", function () { search(input.value.trim()); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && hitsList.firstChild) {
      hitsList.firstChild.click();
    }
  });
  fwSelect.addEventListener("change", function () { load(fwSelect.value); input.value = ""; hitsList.textContent = ""; });
  frameworks.forEach(function (fw) {
    var o = document.createElement("option");
    o.value = fw;
    o.textContent = fw;
    fwSelect.appendChild(o);
  });
  var params = new URLSearchParams(window.location.search);
  var startFw = params.get("fw") && frameworks.indexOf(params.get("fw")) >= 0 ? params.get("fw") : frameworks[0];
  if (!startFw) { panel.textContent = "No framework was indexed when this site was built."; return; }
  fwSelect.value = startFw;
  load(startFw).then(function () {
    var q = params.get("sym");
    if (q && data) {
      var i = data.nodes.findIndex(function (n) { return n[0] === q; });
      if (i < 0) {  // a suffix (Scheduler.schedule) names one symbol when it matches one
        var m = [];
        data.nodes.forEach(function (n, k) { if (n[0].endsWith("." + q) || n[0].endsWith("::" + q)) { m.push(k); } });
        if (m.length === 1) { i = m[0]; }
      }
      if (i >= 0) { focus(i); } else { input.value = q; search(q); }
    }
  });
})();
