// Draws the analytics dashboard's charts with Chart.js. Each <canvas data-chart="ID"> reads its data from the
// <script type="application/json" id="ID"> beside it: {type, labels, datasets: [{label, data}], stacked, xLabel,
// yLabel}. Charts are drawn on page load and again whenever htmx swaps the dashboard in (the filters), and the
// old chart on a replaced canvas is destroyed first. Each chart's table and summary stand in without JavaScript.
(function () {
  "use strict";
  if (window.crossdockAnalytics) {
    window.crossdockAnalytics.drawAll(document);
    return;
  }
  var COLOURS = ["#1d4ed8", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569", "#ca8a04"];
  var charts = [];

  function axis(title, stacked) {
    return {
      stacked: stacked,
      beginAtZero: true,
      title: { display: Boolean(title), text: title },
      ticks: { autoSkip: true, maxRotation: 60 }
    };
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var spec = JSON.parse(source.textContent);
    var line = spec.type === "line";
    var datasets = spec.datasets.map(function (d, i) {
      var colour = COLOURS[i % COLOURS.length];
      return {
        label: d.label,
        data: d.data,
        backgroundColor: colour,
        borderColor: colour,
        borderWidth: line ? 2 : 0,
        pointRadius: line && spec.labels.length > 40 ? 0 : 3,
        spanGaps: true
      };
    });
    var chart = new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom" } },
        scales: { x: axis(spec.xLabel, spec.stacked), y: axis(spec.yLabel, spec.stacked) }
      }
    });
    canvas.setAttribute("data-drawn", "true");
    charts.push(chart);
  }

  function drawAll(root) {
    charts = charts.filter(function (chart) {
      if (!document.body.contains(chart.canvas)) {
        chart.destroy();
        return false;
      }
      return true;
    });
    var canvases = (root || document).querySelectorAll("canvas[data-chart]:not([data-drawn])");
    for (var i = 0; i < canvases.length; i++) {
      draw(canvases[i]);
    }
  }

  window.crossdockAnalytics = { drawAll: drawAll, charts: function () { return charts; } };
  document.addEventListener("htmx:afterSettle", function () {
    drawAll(document);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      drawAll(document);
    });
  } else {
    drawAll(document);
  }
})();
