// Interactive trend charts on the overview, when JavaScript runs: each
// <figure data-points> gets an ECharts line with its 95% interval as a band
// and a tooltip (estimate, interval, n). The server-side SVG stays in the page
// for readers without JavaScript, for the downloaded report and for the PDF;
// it is hidden only once the interactive chart is drawn.
(function () {
  "use strict";
  function draw(fig) {
    var data;
    try {
      data = JSON.parse(fig.getAttribute("data-points"));
    } catch (e) {
      return;
    }
    if (!data || !data.points || !data.points.length || !window.echarts) {
      return;
    }
    var box = document.createElement("div");
    box.className = "echart";
    box.style.height = "260px";
    box.setAttribute("role", "img");
    box.setAttribute("aria-label", data.title);
    fig.insertBefore(box, fig.firstChild);
    var labels = data.points.map(function (p) { return p.label; });
    var lo = data.points.map(function (p) { return p.lo; });
    var band = data.points.map(function (p) {
      return p.lo === null || p.hi === null ? null : p.hi - p.lo;
    });
    var chart = window.echarts.init(box, null, { renderer: "svg" });
    chart.setOption({
      title: { text: data.title, textStyle: { fontSize: 13, fontWeight: "normal" } },
      grid: { left: 48, right: 16, top: 36, bottom: 32 },
      xAxis: { type: "category", data: labels, boundaryGap: false },
      yAxis: { type: "value", scale: true },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          var p = data.points[items[0].dataIndex];
          var ci = p.lo === null ? "—" : p.lo.toFixed(1) + " – " + p.hi.toFixed(1);
          return p.label + "<br>" + data.unit + " " + p.value.toFixed(1) +
            "<br>95% CI " + ci + "<br>n " + p.n;
        }
      },
      series: [
        { type: "line", data: lo, stack: "ci", lineStyle: { opacity: 0 }, symbol: "none",
          silent: true, tooltip: { show: false } },
        { type: "line", data: band, stack: "ci", lineStyle: { opacity: 0 }, symbol: "none",
          areaStyle: { color: "#1f6feb", opacity: 0.15 }, silent: true },
        { type: "line", name: data.unit, data: data.points.map(function (p) { return p.value; }),
          symbolSize: 6, lineStyle: { color: "#1f6feb", width: 2 }, itemStyle: { color: "#1f6feb" } }
      ]
    });
    var svg = fig.querySelector("svg.chart");
    if (svg) {
      svg.style.display = "none";
    }
    window.addEventListener("resize", function () { chart.resize(); });
  }
  function all() {
    var figs = document.querySelectorAll("figure[data-points]");
    for (var i = 0; i < figs.length; i++) {
      draw(figs[i]);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", all);
  } else {
    all();
  }
})();
