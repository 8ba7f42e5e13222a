// Entry point of every page: wires the small behaviours that plain HTML cannot express.
import { initCodes } from "./codes.js";

/** Submit a form as soon as its select changes (the button stays for no-JS users). */
function initAutosubmit() {
  document.addEventListener("change", (event) => {
    const select = event.target.closest("select[data-autosubmit]");
    if (select) select.form.requestSubmit();
  });
  document.documentElement.classList.add("js");
}

function registerServiceWorker() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/service-worker.js", { scope: "/" }).catch(() => {
      // The app works without it; the installed experience just loses its cached shell.
    });
  }
}

initAutosubmit();
initCodes();
registerServiceWorker();
