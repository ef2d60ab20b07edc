// Keeps the console's SLA countdowns ticking without a reload. Each element with data-sla-due (an ISO 8601
// instant the server rendered) gets the server's words ("due in 2 h 05 min", "12 min overdue") and its state
// class (sla-ok, sla-soon within the hour, sla-overdue) once a second. Paused and met targets carry no
// data-sla-due and are left alone; without JavaScript the server's text stands.
(function () {
  "use strict";
  if (window.crossdockSlaClock) {
    return;
  }
  window.crossdockSlaClock = true;
  var SOON_SECONDS = 3600;
  var STATES = ["sla-ok", "sla-soon", "sla-overdue"];

  function span(minutes) {
    if (minutes < 60) {
      return minutes + " min";
    }
    var rest = minutes % 60;
    return Math.floor(minutes / 60) + " h " + (rest < 10 ? "0" : "") + rest + " min";
  }

  function tick() {
    var now = Date.now();
    var clocks = document.querySelectorAll("[data-sla-due]");
    for (var i = 0; i < clocks.length; i++) {
      var el = clocks[i];
      var due = Date.parse(el.getAttribute("data-sla-due"));
      if (isNaN(due)) {
        continue;
      }
      var left = (due - now) / 1000;
      var soon = Number(el.getAttribute("data-sla-soon")) || SOON_SECONDS;
      var minutes = Math.floor(Math.abs(left) / 60);
      var state = left <= 0 ? "overdue" : left <= soon ? "soon" : "ok";
      var label = left <= 0 ? span(minutes) + " overdue" : "due in " + span(minutes);
      if (el.textContent !== label) {
        el.textContent = label;
      }
      if (el.getAttribute("data-sla-state") !== state) {
        for (var j = 0; j < STATES.length; j++) {
          el.classList.remove(STATES[j]);
        }
        el.classList.add("sla-" + state);
        el.setAttribute("data-sla-state", state);
      }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", tick);
  } else {
    tick();
  }
  window.setInterval(tick, 1000);
})();
