// Progress of background work (exports, imports...): polls JSON and shows it.
//
// Markup: any element with data-progress-url, holding a <progress> and an element with
// data-progress-label (both optional):
//
//   <div data-progress-url="/app/acme/exports/7/progress"
//        data-progress-done-url="/app/acme/exports/">      (optional)
//     <progress max="1"></progress> <span data-progress-label>Waiting…</span>
//   </div>
//
// Every second the element's data-progress-url is fetched (same origin, cookies) and
// must answer JSON:
//
//   {"status": str,          // the job's own state word ("queued", "running", ...)
//    "done": int,            // units done (rows)
//    "total": int | null,    // units in all; null while unknown (indeterminate bar)
//    "rate": float | null,   // units per second
//    "eta_s": int | null,    // seconds left
//    "finished": bool,       // nothing more will change
//    "label": str}           // the text to show, translated by the server
//
// When "finished" is true the page follows data-progress-done-url, or reloads, so the
// server renders the final state (a download link, an error report). A failed request
// is tried again, less often. No inline script is needed (strict CSP).
(function () {
  "use strict";
  var INTERVAL = 1000;
  var MAX_INTERVAL = 30000;

  function watch(element) {
    var url = element.getAttribute("data-progress-url");
    var bar = element.querySelector("progress");
    var label = element.querySelector("[data-progress-label]");
    var wait = INTERVAL;

    function show(state) {
      if (bar) {
        if (typeof state.total === "number" && state.total > 0) {
          bar.max = state.total;
          bar.value = Math.min(state.done || 0, state.total);
        } else if (state.finished) {
          bar.max = 1;
          bar.value = 1;
        } else {
          bar.removeAttribute("value"); // indeterminate until the total is known
        }
      }
      if (label && typeof state.label === "string") label.textContent = state.label;
      element.setAttribute("data-progress-status", state.status || "");
    }

    function finish() {
      var done = element.getAttribute("data-progress-done-url");
      if (done) window.location.assign(done);
      else window.location.reload();
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (state) {
          wait = INTERVAL;
          show(state);
          if (state.finished) finish();
          else window.setTimeout(poll, wait);
        })
        .catch(function () {
          wait = Math.min(wait * 2, MAX_INTERVAL); // the server is busy or away: back off
          window.setTimeout(poll, wait);
        });
    }

    window.setTimeout(poll, INTERVAL);
  }

  var elements = document.querySelectorAll("[data-progress-url]");
  for (var i = 0; i < elements.length; i++) watch(elements[i]);
})();
