// Draws the report's figures that pages carry as plotly JSON in `data-figure` attributes
// (no inline scripts: the Content-Security-Policy allows only the server's own files).
// Runs on the page as loaded and on every fragment htmx swaps in (the version page's charts).
(function () {
  "use strict";
  function draw(root) {
    if (!window.Plotly || !root || !root.querySelectorAll) return;
    root.querySelectorAll("[data-figure]:not([data-drawn])").forEach(function (el) {
      el.setAttribute("data-drawn", "1");
      var figure = JSON.parse(el.getAttribute("data-figure"));
      window.Plotly.newPlot(el, figure.data, figure.layout, figure.config);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
})();
