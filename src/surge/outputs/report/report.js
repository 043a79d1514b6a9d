/* surge report: draws the charts from the embedded data with uPlot; sorts tables. No network. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("surge-data").textContent);
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  var charts = (window.surgeCharts = {});
  var H = D.history || {};
  var EMPTY = { t: [], rps: [], fps: [], users: [], p50: [], p95: [], p99: [] };

  function widthOf(el) { return Math.max(320, (el.clientWidth || 960) - 4); }

  function stageMarks(marks) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx, top = u.bbox.top, bottom = u.bbox.top + u.bbox.height;
          ctx.save();
          ctx.strokeStyle = "#999"; ctx.setLineDash([6, 4]); ctx.lineWidth = 1;
          (marks || []).forEach(function (t) {
            var x = u.valToPos(t, "x", true);
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
          });
          ctx.restore();
        }]
      }
    };
  }

  function chart(id, title, yLabel, labels, data, extra) {
    var el = document.getElementById(id);
    if (!el) return null;
    extra = extra || {};
    var series = [{ label: extra.xLabel || "time" }];
    labels.forEach(function (label, i) {
      var s = { label: label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true };
      if (extra.dash && extra.dash[i]) s.dash = [8, 4];
      series.push(s);
    });
    var opts = {
      title: title, width: widthOf(el), height: 260, series: series,
      axes: [extra.xAxis || {}, { label: yLabel, size: 60 }],
      scales: extra.scales || { x: { time: true } },
      cursor: { drag: { x: true, y: false } },
      plugins: extra.plain ? [] : [stageMarks(D.stages)]
    };
    var u = new uPlot(opts, data, el);
    charts[id.replace(/^chart-/, "")] = u;
    return u;
  }

  function latencyData(key) {
    var h = H[key] || EMPTY;
    return [h.t, h.p50, h.p95, h.p99];
  }

  function distributionData(key) {
    var d = (D.distributions || {})[key] || { x: [], ms: [] };
    return [d.x, d.ms];
  }

  var all = H["*"] || EMPTY;
  chart("chart-throughput", "Requests/s and failures/s", "per s", ["requests/s", "failures/s"], [all.t, all.rps, all.fps]);
  chart("chart-users", D.workload === "open" ? "Virtual users (arrival-rate run: iterations arrive at the planned rate)" : "Users", "users",
        ["users"], [all.t, all.users]);
  chart("chart-latency", "Latency (ms): all requests", "ms", ["p50", "p95", "p99"], latencyData("*"));
  chart("chart-distribution", "Latency by percentile (ms): all requests", "ms", ["latency"], distributionData("*"), {
    plain: true, xLabel: "percentile",
    scales: { x: { time: false, distr: 3 } },
    xAxis: { label: "percentile", values: function (u, vals) { return vals.map(percentileLabel); } }
  });

  function percentileLabel(v) {
    if (v == null) return "";
    var p = 100 * (1 - 1 / v);
    return (p >= 99 ? p.toPrecision(Math.max(2, Math.ceil(Math.log10(v)) + 1)) : Math.round(p)) + "%";
  }

  var select = document.getElementById("endpoint-select");
  if (select) {
    select.addEventListener("change", function () {
      var key = select.value, name = key === "*" ? "all requests" : key;
      if (charts.latency) { charts.latency.setData(latencyData(key)); setTitle(charts.latency, "Latency (ms): " + name); }
      if (charts.distribution) {
        charts.distribution.setData(distributionData(key));
        setTitle(charts.distribution, "Latency by percentile (ms): " + name);
      }
    });
  }

  function setTitle(u, text) {
    var t = u.root.querySelector(".u-title");
    if (t) t.textContent = text;
  }

  var monitors = D.monitors || [];
  if (monitors.length) {
    var section = document.getElementById("monitors"), box = document.getElementById("monitor-charts");
    section.hidden = false;
    monitors.forEach(function (panel) {
      var div = document.createElement("div");
      div.className = "chart"; div.id = "chart-" + panel.id;
      box.appendChild(div);
      var cols = Object.keys(panel.series).filter(function (k) { return k !== "t"; });
      var title = panel.title + (panel.verdict ? " · leak verdict: " + panel.verdict +
        (panel.slope_mb_per_min != null ? " (" + panel.slope_mb_per_min + " MB/min)" : "") : "");
      chart(div.id, title, "", cols.map(function (c) { return c === "slope" ? "fitted slope" : c; }),
            [panel.series.t].concat(cols.map(function (c) { return panel.series[c]; })),
            { dash: cols.map(function (c) { return c === "slope"; }) });
    });
  }

  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (k) {
      var u = charts[k];
      u.setSize({ width: widthOf(u.root.parentNode), height: 260 });
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener("click", function () { sortBy(table, th, col); });
    });
  });

  function sortBy(table, th, col) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var fixed = rows.filter(function (r) { return r.classList.contains("total"); });
    rows = rows.filter(function (r) { return !r.classList.contains("total"); });
    var dir = th.getAttribute("data-dir") === "asc" ? -1 : 1;
    Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.removeAttribute("data-dir"); });
    th.setAttribute("data-dir", dir === 1 ? "asc" : "desc");
    rows.sort(function (a, b) { return dir * compare(key(a), key(b)); });
    rows.concat(fixed).forEach(function (r) { body.appendChild(r); });

    function key(row) {
      var cell = row.cells[col], v = cell.getAttribute("data-v");
      return v !== null && v !== "" && !isNaN(Number(v)) ? Number(v) : cell.textContent;
    }
  }

  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b));
  }
})();
