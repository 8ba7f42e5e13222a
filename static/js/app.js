// Entry point of every page: wires the small behaviours that plain HTML cannot express.
import { initAccountsList } from "./accounts-list.js";
import { initCodes } from "./codes.js";
import { initImageInput } from "./image-input.js";
import { initInstall } from "./install.js";
import { initLocalTimes } from "./local-time.js";
import { initNav } from "./nav.js";
import { initOfflineSync } from "./offline-sync.js";
import { initPwa } from "./pwa.js";
import { initSafeActions } from "./safe-actions.js";
import { initScanner } from "./scanner.js";
import { initSync } from "./sync.js";

/** Submit a form as soon as its select changes (the button stays for no-JS users). */
function initAutosubmit() {
  document.addEventListener("change", (event) => {
    const select = event.target.closest("select[data-autosubmit]");
    if (select) select.form.requestSubmit();
  });
  document.documentElement.classList.add("js");
}

initAutosubmit();
initCodes();
initAccountsList();
initNav();
initImageInput();
initLocalTimes();
initScanner();
initPwa();
initInstall();
initSafeActions();
initOfflineSync();
initSync();
// Passkeys load their WebAuthn helpers only on the pages that have them.
if (document.querySelector("#passkey-signin, #passkey-add, [data-passkey-reauth]")) {
  import("./passkeys.js").then(({ initPasskeys }) => initPasskeys());
}
