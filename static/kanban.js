// Deal kanban: drag a card to another column to change the deal's stage.
// The card moves at once; the server's answer updates the column totals, or the
// card goes back where it was and the error is shown. Each card also has a plain
// form (keyboard, no script) posting to the same endpoint.
(function () {
  "use strict";
  var board = document.getElementById("kanban");
  if (!board || board.dataset.canMove !== "yes") return;
  var csrf = document.getElementById("kanban-csrf");
  var status = document.getElementById("board-status");
  var filters = document.querySelector(".board-filters");
  var dragged = null;

  function say(message, ok) {
    status.textContent = message;
    status.className = "flash " + (ok ? "flash-success" : "flash-error");
    status.hidden = false;
  }

  function refreshEmpty(column) {
    var empty = column.querySelector(".kanban-empty");
    if (empty) empty.hidden = column.querySelector(".kanban-card") !== null;
  }

  function applyTotals(columns) {
    Object.keys(columns).forEach(function (stageId) {
      var column = board.querySelector('.kanban-col[data-stage="' + stageId + '"]');
      if (!column) return;
      var c = columns[stageId];
      column.querySelector("[data-count]").textContent = c.count.toLocaleString();
      column.querySelector("[data-total]").textContent = c.total;
      column.querySelector("[data-weighted]").textContent = c.weighted;
    });
  }

  function move(card, column, origin, before) {
    var body = new FormData();
    body.append("stage_id", column.dataset.stage);
    if (filters) {
      ["owner_id", "q"].forEach(function (name) {
        var input = filters.elements[name];
        if (input && input.value) body.append(name, input.value);
      });
    }
    card.classList.add("is-saving");
    fetch(card.dataset.move, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf.value, Accept: "application/json" },
    })
      .then(function (resp) {
        return resp.json().then(
          function (data) { return { ok: resp.ok, data: data }; },
          function () { return { ok: false, data: {} }; }
        );
      })
      .then(function (result) {
        if (!result.ok || !result.data.ok) throw new Error(result.data.error || board.dataset.error);
        applyTotals(result.data.columns);
        var select = card.querySelector("select[name=stage_id]");
        if (select) select.value = column.dataset.stage;
        say(result.data.message, true);
      })
      .catch(function (err) {
        origin.insertBefore(card, before);
        say(err.message || board.dataset.error, false);
      })
      .then(function () {
        card.classList.remove("is-saving");
        refreshEmpty(origin.closest(".kanban-col"));
        refreshEmpty(column);
      });
  }

  board.addEventListener("dragstart", function (e) {
    var card = e.target.closest && e.target.closest(".kanban-card");
    if (!card) return;
    dragged = card;
    card.classList.add("is-dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", card.dataset.deal);
  });

  board.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("is-dragging");
    board.querySelectorAll(".is-over").forEach(function (c) { c.classList.remove("is-over"); });
    dragged = null;
  });

  board.addEventListener("dragover", function (e) {
    var column = e.target.closest && e.target.closest(".kanban-col");
    if (!column || !dragged) return;
    e.preventDefault(); // allows the drop
    e.dataTransfer.dropEffect = "move";
    board.querySelectorAll(".is-over").forEach(function (c) {
      if (c !== column) c.classList.remove("is-over");
    });
    column.classList.add("is-over");
  });

  board.addEventListener("drop", function (e) {
    var column = e.target.closest && e.target.closest(".kanban-col");
    if (!column || !dragged) return;
    e.preventDefault();
    column.classList.remove("is-over");
    var card = dragged;
    var origin = card.parentNode;
    if (origin.closest(".kanban-col") === column) return;
    var before = card.nextSibling;
    var list = column.querySelector(".kanban-cards");
    list.insertBefore(card, list.firstChild); // the most recently updated comes first
    refreshEmpty(column);
    refreshEmpty(origin.closest(".kanban-col"));
    move(card, column, origin, before);
  });
})();
