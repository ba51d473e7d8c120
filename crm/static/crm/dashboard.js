/* The manager's dashboard: draws each <canvas data-chart="…"> from the page's
   #dashboard-charts JSON block (crm/dashboard/figures), with the Chart.js that the admin's
   theme (django-unfold) loads on every admin page. No inline script, nothing fetched.
   A bar whose dataset carries "links" opens the customers behind it when clicked. */
(function () {
  "use strict";

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function palette() {
    return [
      cssVar("--color-primary-600", "#7c3aed"),
      cssVar("--color-primary-300", "#c4b5fd"),
      "#0ea5e9",
      "#f59e0b",
      "#ef4444",
      "#10b981",
    ];
  }

  function axis(title, stacked, extra) {
    var options = {
      stacked: stacked,
      beginAtZero: true,
      title: { display: Boolean(title), text: title || "" },
      grid: { color: cssVar("--color-base-200", "#e5e7eb") },
    };
    return Object.assign(options, extra || {});
  }

  function config(spec) {
    var colors = palette();
    var datasets = spec.datasets.map(function (set, i) {
      var color = colors[i % colors.length];
      var line = (set.type || spec.type) === "line";
      return Object.assign(
        {
          backgroundColor: color,
          borderColor: color,
          borderWidth: line ? 2 : 0,
          pointRadius: line ? 2 : 0,
          borderRadius: line ? 0 : 3,
        },
        set
      );
    });
    var scales = {
      x: axis(spec.xTitle, spec.stacked, { grid: { display: false } }),
      y: axis(spec.yTitle, spec.stacked),
    };
    if (datasets.some(function (set) { return set.yAxisID === "y2"; })) {
      scales.y2 = axis(spec.y2Title, false, { position: "right", grid: { drawOnChartArea: false } });
    }
    return {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        indexAxis: spec.horizontal ? "y" : "x",
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
        scales: scales,
        onClick: function (event, elements, chart) {
          var hit = elements.find(function (el) { return chart.data.datasets[el.datasetIndex].links; });
          if (hit) {
            window.location.href = chart.data.datasets[hit.datasetIndex].links[hit.index];
          }
        },
        onHover: function (event, elements, chart) {
          var linked = elements.some(function (el) { return chart.data.datasets[el.datasetIndex].links; });
          event.native.target.style.cursor = linked ? "pointer" : "default";
        },
      },
    };
  }

  function draw() {
    var block = document.getElementById("dashboard-charts");
    if (!block) {
      return;
    }
    var specs = JSON.parse(block.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var spec = specs[canvas.dataset.chart];
      if (!spec) {
        return;
      }
      if (typeof window.Chart === "undefined") {
        var note = document.createElement("p");
        note.className = "chart-missing";
        note.textContent = "The chart cannot be drawn: the admin theme's Chart.js did not load.";
        canvas.replaceWith(note);
        return;
      }
      window.Chart.defaults.color = cssVar("--color-base-500", "#6b7280");
      new window.Chart(canvas, config(spec));
      canvas.dataset.drawn = "true";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
