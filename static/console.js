// mailcore console: the little behaviour htmx does not cover. Loaded as a file (the CSP
// forbids inline scripts); no eval, no inline handlers.
(function () {
  "use strict";

  // Failed list: "select all" and enabling the bulk button only when something is selected.
  function wireBulk(root) {
    var form = root.querySelector ? root.querySelector("#bulk-form") : null;
    if (!form) { form = document.getElementById("bulk-form"); }
    if (!form || form.dataset.wired) { return; }
    form.dataset.wired = "1";
    var all = form.querySelector("#select-all");
    var button = form.querySelector("#bulk-rerun");
    function boxes() { return form.querySelectorAll("input[name=uid]"); }
    function refresh() {
      var n = 0;
      boxes().forEach(function (b) { if (b.checked) { n += 1; } });
      if (button) {
        button.disabled = n === 0;
        // The words come from the page, in the reader's language ({n}: the count).
        var some = button.dataset.labelCount || "Re-run selected ({n})";
        button.textContent = n ? some.replace("{n}", String(n)) : (button.dataset.label || "Re-run selected");
      }
      if (all) { all.checked = n > 0 && n === boxes().length; }
    }
    form.addEventListener("change", function (ev) {
      if (ev.target === all) {
        boxes().forEach(function (b) { b.checked = all.checked; });
      }
      refresh();
    });
    refresh();
  }

  // Tab in the payload editor inserts two spaces instead of leaving the field.
  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.key !== "Tab" || ev.shiftKey || !t || t.id !== "payload") { return; }
    ev.preventDefault();
    var start = t.selectionStart, end = t.selectionEnd;
    t.value = t.value.slice(0, start) + "  " + t.value.slice(end);
    t.selectionStart = t.selectionEnd = start + 2;
    t.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // Identifier candidates: a click puts the file's identifier into the editor's field.
  document.addEventListener("click", function (ev) {
    var button = ev.target && ev.target.closest ? ev.target.closest("button[data-identifier]") : null;
    var field = document.getElementById("identifier");
    if (!button || !field) { return; }
    field.value = button.dataset.identifier;
    field.focus();
  });

  document.addEventListener("DOMContentLoaded", function () { wireBulk(document); });
  document.addEventListener("htmx:afterSettle", function () { wireBulk(document); });
})();
