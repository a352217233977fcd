// Suggestions for lookup fields: as the user types, fill the input's <datalist>
// with matching records ("Name (#id)"); the server reads the id back.
(function () {
  "use strict";
  function attach(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 1 || /\(#\d+\)$/.test(q)) return;
      timer = setTimeout(function () {
        fetch(input.dataset.lookup + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (rows) {
            list.replaceChildren();
            rows.forEach(function (row) {
              var option = document.createElement("option");
              option.value = row.label;
              list.appendChild(option);
            });
          });
      }, 150);
    });
  }
  document.querySelectorAll("input[data-lookup]").forEach(attach);
})();
