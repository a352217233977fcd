// Workflow builder: choosing an object, a trigger, a field or an action kind re-renders the
// form at once (the server draws the right inputs), keeping the scroll position; without
// JavaScript the "Apply" buttons do the same.
(function () {
  "use strict";
  document.documentElement.classList.add("wf-js");
  var KEY = "wf-scroll:" + location.pathname;

  var saved = sessionStorage.getItem(KEY);
  if (saved !== null) {
    sessionStorage.removeItem(KEY);
    window.scrollTo(0, parseInt(saved, 10) || 0);
  }

  var form = document.getElementById("wf-form");
  if (form) {
    var apply = form.querySelector("button.wf-apply");
    form.addEventListener("change", function (event) {
      if (!event.target.hasAttribute("data-refresh") || !apply) return;
      sessionStorage.setItem(KEY, String(window.scrollY));
      form.requestSubmit(apply);
    });
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (button && button.value && button.value !== "save") {
        sessionStorage.setItem(KEY, String(window.scrollY));
      }
    });
  }

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  });
})();
