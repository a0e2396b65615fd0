/* infernav call-graph explorer: a client-side view over explorer/data/<framework>.json.
 *
 * Data: nodes[i] = [name, kind, fileIndex, line, endLine, symbolPageUrl|0];
 * edges = flat [src, dst, resolution, src, dst, resolution, ...]; resolutions[code] = label.
 * Upstream text (names, source) is only ever put into the page with textContent.
 */
(function () {
  "use strict";
  var root = document.getElementById("inav-explorer");
  if (!root || typeof cytoscape === "undefined") { return; }
  var frameworks = (root.getAttribute("data-frameworks") || "").split(",").filter(Boolean);
  var fwSelect = document.getElementById("inav-fw");
  var input = document.getElementById("inav-q");
  var hitsList = document.getElementById("inav-hits");
  var panel = document.getElementById("inav-panel");
  var COLORS = ["#2e7d32", "#0277bd", "#6a1b9a", "#ef6c00", "#c62828"];
  var data = null, outAdj = null, inAdj = null, lowerNames = null, fwName = null;
  var cy = cytoscape({
    container: document.getElementById("inav-graph"),
    wheelSensitivity: 0.3,
    style: [
      { selector: "node", style: { "label": "data(label)", "font-size": 10, "text-valign": "bottom",
        "background-color": "#5c6bc0", "width": 14, "height": 14, "color": "#333" } },
      { selector: "node.focus", style: { "background-color": "#d81b60", "width": 20, "height": 20 } },
      { selector: "node.expanded", style: { "border-width": 2, "border-color": "#222" } },
      { selector: "edge", style: { "width": 1.5, "curve-style": "bezier", "target-arrow-shape": "triangle",
        "line-color": "data(color)", "target-arrow-color": "data(color)", "label": "data(res)",
        "font-size": 8, "text-rotation": "autorotate", "color": "#666" } }
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

  function expand(i) {
    var node = addNode(i);
    if (node.hasClass("expanded")) { return; }
    node.addClass("expanded");
    outAdj[i].slice(0, 40).forEach(function (e) { addNode(e[0]); addEdge(i, e[0], e[1]); });
    inAdj[i].slice(0, 40).forEach(function (e) { addNode(e[0]); addEdge(e[0], i, e[1]); });
    // The focused node in the middle, its neighbourhood in rings around it.
    cy.layout({ name: "concentric", animate: false, minNodeSpacing: 18, avoidOverlap: true,
      concentric: function (n) { return n.hasClass("focus") ? 3 : n.hasClass("expanded") ? 2 : 1; },
      levelWidth: function () { return 1; } }).run();
  }

  function focus(i) {
    cy.nodes().removeClass("focus");
    addNode(i).addClass("focus");
    expand(i);
    show(i);
    root.setAttribute("data-nodes", String(cy.nodes().length));
  }

  function show(i) {
    var n = data.nodes[i];
    panel.textContent = "";
    var h = document.createElement("h3");
    h.textContent = n[0];
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

  cy.on("tap", "node", function (evt) {
    var i = evt.target.data("idx");
    cy.nodes().removeClass("focus");
    evt.target.addClass("focus");
    expand(i);
    show(i);
    root.setAttribute("data-nodes", String(cy.nodes().length));
  });
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
    var q = params.get("q");
    if (q && data) {
      var i = data.nodes.findIndex(function (n) { return n[0] === q; });
      if (i >= 0) { focus(i); } else { input.value = q; search(q); }
    }
  });
})();
