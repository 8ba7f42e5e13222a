/**
 * Actions that are hard to take back, and results shown where the person is looking.
 *
 * - The list's trash button asks "Move … to the trash?" in a native dialog
 *   (templates/accounts/delete_dialog.html); without this script it is a link to the same
 *   question as a page. After the delete the focus goes to the snackbar's "Undo", and after an
 *   undo to the restored row.
 * - A page that answers a full-page submit with something to see (what was revealed, a field's
 *   error) brings it into view and focuses it, instead of leaving it below the fold.
 * - "Confirm it is you" (form[data-replace-on-success]) is sent from here, and the page it
 *   leads to takes its place in the history: Back from a revealed secret goes back to the
 *   account, not to the password form. The server answers such a request with JSON
 *   (views/auth.py); a wrong password comes back as the page, whose form replaces this one.
 *
 * @module safe-actions
 */

const TRASH_DIALOG = 'delete-dialog';

function restoredUuid(button) {
  const match = /\/accounts\/([^/]+)\/restore$/.exec(new URL(button.formAction).pathname);
  return match ? match[1] : null;
}

function initDeleteDialog() {
  let focusAfterSwap = null;
  document.addEventListener('click', (event) => {
    // The link's page asks the question and its form posts back to the same URL, so the
    // dialog's button posts there too; the row's issuer (or name) is what the page would name.
    const link = event.target.closest('#codes .account > a.delete');
    const dialog = document.getElementById(TRASH_DIALOG);
    if (!link || !dialog || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) return;
    event.preventDefault();
    const label = link.closest('.account').querySelector('.issuer').textContent;
    dialog.querySelector('h2').textContent = dialog.dataset.title.replace('{label}', label);
    dialog.querySelector('[data-confirm]').setAttribute('formaction', link.getAttribute('href'));
    dialog.showModal();
  });
  const dialog = document.getElementById(TRASH_DIALOG);
  if (dialog) {
    dialog.querySelector('[data-cancel]').addEventListener('click', () => dialog.close());
    // The button submits the list's form (htmx); the dialog goes once the request is on its way.
    dialog.querySelector('[data-confirm]').addEventListener('click', () => {
      focusAfterSwap = () => document.querySelector('#snackbar .snackbar-action');
      setTimeout(() => dialog.close(), 0);
    });
  }
  document.addEventListener('click', (event) => {
    const undo = event.target.closest('.snackbar-action');
    if (undo) {
      const uuid = restoredUuid(undo);
      focusAfterSwap = () => (uuid ? document.querySelector(`#account-${CSS.escape(uuid)} .code`) : null);
    }
    const dismiss = event.target.closest('.snackbar [data-dismiss]');
    if (dismiss) dismiss.closest('.snackbar').remove();
  });
  document.body.addEventListener('htmx:afterSettle', (event) => {
    showDismissButtons(event.target);
    if (event.target.id !== 'codes' || !focusAfterSwap) return;
    const target = focusAfterSwap();
    focusAfterSwap = null;
    if (target) {
      target.focus({ preventScroll: true });
      target.scrollIntoView({ block: 'nearest' });
    }
  });
  showDismissButtons(document);
}

function showDismissButtons(root) {
  root.querySelectorAll?.('.snackbar [data-dismiss]').forEach((button) => {
    button.hidden = false;
  });
}

/**
 * What a full-page answer has to show: what was revealed, else the first error. The error's
 * message takes the focus (read out, and no keyboard popping up over it on a phone), unless
 * its field is the page's first field anyway (autofocus: sign-in, "Confirm it is you"), which
 * then keeps it, the message being its description.
 */
function focusResult() {
  const shown = document.querySelector('[data-focus-on-load]');
  const error = document.querySelector('.field-error .errors, .errors:not(:empty)[role="alert"]');
  if (!shown && !error) return;
  const field = error?.closest('.field-error')?.querySelector('[aria-invalid="true"]');
  const target = shown || (field?.hasAttribute('autofocus') ? field : error);
  if (!target.matches('input, textarea, select, button') && !target.hasAttribute('tabindex')) {
    target.setAttribute('tabindex', '-1');
  }
  (shown || error.closest('.field') || error).scrollIntoView({ block: shown ? 'nearest' : 'center' });
  target.focus({ preventScroll: true });
}

function initReplacingForms() {
  document.addEventListener('submit', async (event) => {
    const form = event.target.closest('form[data-replace-on-success]');
    if (!form || event.defaultPrevented) return;
    event.preventDefault();
    const button = form.querySelector('[type="submit"]');
    if (button) button.disabled = true;
    let response;
    try {
      response = await fetch(form.action, {
        method: 'POST',
        body: new FormData(form),
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
      });
    } catch {
      HTMLFormElement.prototype.submit.call(form); // offline or refused: the plain post says why
      return;
    }
    if (response.ok && (response.headers.get('Content-Type') || '').startsWith('application/json')) {
      const { location } = await response.json();
      window.location.replace(location);
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), 'text/html');
    // The form again with its error, or another answer (too many tries, an expired form) in
    // place of the page's content: never a second post of the password.
    const answer = page.querySelector('form[data-replace-on-success]');
    const main = document.querySelector('main');
    if (answer) form.replaceWith(document.importNode(answer, true));
    else if (main && page.querySelector('main')) main.replaceWith(document.importNode(page.querySelector('main'), true));
    focusResult();
  });
}

export function initSafeActions() {
  initDeleteDialog();
  initReplacingForms();
  focusResult();
}
