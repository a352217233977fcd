// Layout and validation rule pages. Everything works without this script; it only
// narrows the rule form's choices to what fits the chosen field and adds rows.

// Ask before an action that cannot be undone: <form data-confirm="...">.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

const NO_VALUE = ["is_empty", "is_not_empty", "changed"];
// Only these compare with another field (conditions.others_for).
const WITH_OTHER = ["equals", "not_equals", "greater", "greater_or_equal", "less", "less_or_equal"];

function fitRow(row) {
  const field = row.querySelector(".cond-field");
  const op = row.querySelector(".cond-op");
  const value = row.querySelector(".cond-value");
  const other = row.querySelector(".cond-other");
  const chosen = field.selectedOptions[0];
  const ops = chosen && chosen.value ? chosen.dataset.ops.split(" ") : null;
  const others = chosen && chosen.value ? chosen.dataset.others.split(" ") : [];
  for (const option of op.options) {
    option.hidden = Boolean(option.value && ops && !ops.includes(option.value));
  }
  if (op.selectedOptions[0] && op.selectedOptions[0].hidden) {
    op.value = "";
  }
  for (const option of other.options) {
    option.hidden = Boolean(option.value && !others.includes(option.value));
  }
  if (other.selectedOptions[0] && other.selectedOptions[0].hidden) {
    other.value = "";
  }
  const list = chosen && chosen.value && document.getElementById("values-" + chosen.value);
  if (list) {
    value.setAttribute("list", list.id);
  } else {
    value.removeAttribute("list");
  }
  const needsValue = !NO_VALUE.includes(op.value);
  const withOther = !op.value || WITH_OTHER.includes(op.value);
  other.hidden = !needsValue || !withOther || others.length === 0 || others[0] === "";
  if (other.hidden) {
    other.value = "";
  }
  value.hidden = !needsValue || Boolean(other.value);
}

function renumber(row, index) {
  for (const input of row.querySelectorAll("[name], [id], label[for], [aria-describedby]")) {
    for (const attr of ["name", "id", "for"]) {
      const old = input.getAttribute(attr);
      if (old) {
        input.setAttribute(attr, old.replace(/^cond-\d+-/, "cond-" + index + "-"));
      }
    }
  }
  for (const error of row.querySelectorAll(".error")) {
    error.remove();
  }
  row.classList.remove("has-error");
  for (const input of row.querySelectorAll("input")) {
    input.value = "";
  }
  for (const select of row.querySelectorAll("select")) {
    select.value = "";
    select.removeAttribute("aria-invalid");
    select.removeAttribute("aria-describedby");
  }
}

const table = document.querySelector(".conditions-table tbody");
if (table) {
  for (const row of table.querySelectorAll("tr.condition")) {
    fitRow(row);
  }
  table.addEventListener("change", (event) => {
    const row = event.target.closest("tr.condition");
    if (row) {
      fitRow(row);
    }
  });
  const add = document.querySelector(".add-condition");
  add.hidden = false;
  add.addEventListener("click", () => {
    const rows = table.querySelectorAll("tr.condition");
    if (rows.length >= 20) {
      add.hidden = true;
      return;
    }
    const row = rows[rows.length - 1].cloneNode(true);
    renumber(row, rows.length);
    table.appendChild(row);
    fitRow(row);
    row.querySelector(".cond-field").focus();
  });
}
