// Import preview and printable export pages: "tick all / none" and a print button.
// Both are conveniences; the pages work without them. The pages load this module themselves
// (it is not part of the offline shell).

/** Wire the buttons that tick or untick every selectable entry of an import preview. */
function initSelectButtons() {
  const form = document.querySelector("form[data-import-preview]");
  if (!form) return;
  const buttons = form.querySelector("[data-select-buttons]");
  if (buttons) buttons.hidden = false;
  form.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-select]");
    if (!button) return;
    const tick = button.dataset.select === "all";
    for (const box of form.querySelectorAll('input[type="checkbox"][name="pick"]:not(:disabled)')) {
      box.checked = tick;
    }
  });
}

/** Show the print buttons of printable pages. */
function initPrintButtons() {
  for (const button of document.querySelectorAll("button[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
}

initSelectButtons();
initPrintButtons();
