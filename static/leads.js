// Lead conversion: typing in "another existing account / contact" picks that option.
(function () {
  "use strict";
  ["account", "contact"].forEach(function (kind) {
    var input = document.getElementById(kind + "_other");
    var radio = document.querySelector('input[type="radio"][name="' + kind + '"][value="other"]');
    if (!input || !radio) return;
    input.addEventListener("input", function () {
      if (input.value.trim()) radio.checked = true;
    });
  });
})();
