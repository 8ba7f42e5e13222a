// Import preview and export pages: "tick all / none", a print button, and download forms that
// leave no stale error behind.
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

/**
 * A form whose answer is a download leaves the page as it was: clear what the last refusal left
 * (its messages, the passwords typed) once the form is sent, and say the download started.
 * When the server refuses again, its answer is a new page with the new message anyway.
 */
function initDownloadForms() {
  for (const form of document.querySelectorAll("form[data-download-form]")) {
    form.addEventListener("submit", () => {
      // After this event the browser has read the fields; clearing them now changes nothing sent.
      setTimeout(() => {
        for (const list of form.querySelectorAll(".errors")) list.remove();
        for (const field of form.querySelectorAll(".field-error")) field.classList.remove("field-error");
        for (const input of form.querySelectorAll("[aria-invalid]")) {
          input.removeAttribute("aria-invalid");
          input.removeAttribute("aria-describedby");
        }
        for (const input of form.querySelectorAll('input[type="password"]')) input.value = "";
        const started = form.querySelector("[data-download-started]");
        if (started) started.hidden = false;
      }, 0);
    });
  }
}

initSelectButtons();
initPrintButtons();
initDownloadForms();
