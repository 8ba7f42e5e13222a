/**
 * The code list's keyboard, ordering and bookkeeping (templates/partials/codes.html).
 *
 * - `/` focuses the search box; ↑ ↓ ← → Home End go from account to account (the focus rests
 *   on each account's code button, so Enter copies, as a click does). On a wide screen the
 *   list is a grid: ↑ and ↓ go up and down its column, ← and → along the reading order
 *   (mirrored right to left).
 * - Reordering, when the list is in the user's own order (`#codes[data-reorder]`): drag an
 *   account by its icon, up and down the list or across the grid (pointer events, so mouse, pen and touch alike), or Alt+↑ / Alt+↓.
 *   The server stores the order (`POST …/move`, the list's `data-move-url`, with the account
 *   it now stands before) and answers with the list, which replaces this one. While a drag is
 *   under way the list's timed refresh waits, so the row under the finger does not vanish.
 * - Copying a code tells the server it was used (the list's `data-used-url`), for the
 *   "Recently used" order.
 * - Forms with `data-confirm` ask before they submit (deleting for good).
 * - After a search, a live region says how many accounts are shown.
 *
 * @module accounts-list
 */

const DRAG_THRESHOLD_PX = 4;

function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRFToken'] || '';
  } catch {
    return '';
  }
}

function isEditable(element) {
  return Boolean(element && element.closest && element.closest('input, textarea, select, [contenteditable="true"]'));
}

const items = () => [...document.querySelectorAll('#codes .account-list > .account')];
const codeButton = (item) => item && item.querySelector('button.code');
const uuidOf = (item) => item.id.slice('account-'.length);

/** How many accounts stand side by side in the list's grid: those on the first one's line. */
function columnsOf(list) {
  const top = list[0].offsetTop;
  const first = list.findIndex((item) => item.offsetTop !== top);
  return first === -1 ? list.length : first;
}

/** Where a key moves the focus from account `index` in a list of `count` in `columns` columns. */
export function gridTarget(key, index, count, columns, rtl = false) {
  const forward = rtl ? 'ArrowLeft' : 'ArrowRight';
  const back = rtl ? 'ArrowRight' : 'ArrowLeft';
  const moves = { ArrowDown: index + columns, ArrowUp: index - columns, [forward]: index + 1, [back]: index - 1, Home: 0, End: count - 1 };
  return moves[key];
}

/** An account's URL from the list's template for it (`UUID` standing for the account's). */
function accountUrl(template, item) {
  return template ? template.replace('UUID', uuidOf(item)) : '';
}

/**
 * Move `item` on the server to stand before `before`, or with none after `after`: a long list
 * shows only its first rows, so below its last row shown is not the end of the vault.
 */
function saveMove(item, before, after) {
  const url = accountUrl(document.getElementById('codes')?.dataset.moveUrl, item);
  if (!url) return Promise.resolve();
  const values = before ? { before: uuidOf(before) } : { after: after ? uuidOf(after) : '' };
  return window.htmx.ajax('POST', url, { source: item, target: '#codes', swap: 'outerHTML', values }).catch(() => {
    const list = document.getElementById('codes');
    const toast = document.getElementById('toast');
    if (toast && list) {
      toast.textContent = list.dataset.moveFailed || '';
      toast.classList.add('visible');
      setTimeout(() => toast.classList.remove('visible'), 2500);
    }
    if (list) window.htmx.trigger(list, 'refresh');
  });
}

function initKeys() {
  document.addEventListener('keydown', (event) => {
    if (event.key === '/' && !event.ctrlKey && !event.metaKey && !event.altKey && !isEditable(event.target)) {
      const search = document.getElementById('account-search');
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
      return;
    }
    if (!['ArrowDown', 'ArrowUp', 'ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(event.key) || event.ctrlKey || event.metaKey) return;
    const list = items();
    if (!list.length) return;
    const fromSearch = event.target.id === 'account-search';
    const current = event.target.closest && event.target.closest('#codes .account');
    if (!current && !(fromSearch && event.key === 'ArrowDown' && !event.altKey)) return;
    if (fromSearch) {
      event.preventDefault();
      codeButton(list[0]).focus();
      return;
    }
    const index = list.indexOf(current);
    if (event.altKey) {
      if (!['ArrowUp', 'ArrowDown'].includes(event.key) || !document.getElementById('codes').hasAttribute('data-reorder')) return;
      // Only the user's own accounts have an order; those shared with them are listed apart.
      const own = list.filter((item) => !item.classList.contains('account-shared'));
      const at = own.indexOf(current);
      if (at < 0) return;
      event.preventDefault();
      if (event.key === 'ArrowUp' && at > 0) saveMove(current, own[at - 1], null);
      if (event.key === 'ArrowDown' && at < own.length - 1) saveMove(current, own[at + 2] || null, own[at + 1]);
      return;
    }
    if (event.shiftKey) return;
    const rtl = getComputedStyle(current).direction === 'rtl';
    const target = gridTarget(event.key, index, list.length, columnsOf(list), rtl);
    if (target < 0 || target >= list.length) return;
    event.preventDefault();
    codeButton(list[target]).focus();
  });
}

/** Drag by the icon with pointer events; the row moves in the list (or the grid) as the pointer goes. */
function initDrag() {
  let drag = null;

  document.addEventListener('pointerdown', (event) => {
    const handle = event.target.closest && event.target.closest('#codes[data-reorder] .account:not(.account-shared) > .avatar');
    if (!handle || event.button !== 0) return;
    const item = handle.closest('.account');
    event.preventDefault();
    handle.setPointerCapture(event.pointerId);
    drag = {
      item, handle, pointerId: event.pointerId, startX: event.clientX, startY: event.clientY, moved: false,
      next: item.nextElementSibling, grid: columnsOf(items()) > 1,
    };
  });

  document.addEventListener('pointermove', (event) => {
    if (!drag || event.pointerId !== drag.pointerId) return;
    const distance = Math.max(Math.abs(event.clientY - drag.startY), Math.abs(event.clientX - drag.startX));
    if (!drag.moved && distance < DRAG_THRESHOLD_PX) return;
    if (!drag.moved) {
      drag.moved = true;
      drag.item.classList.add('dragging');
      document.body.classList.add('reordering');
    }
    const list = drag.item.parentElement;
    if (drag.grid) {
      // In a grid the row takes the place of the row under the pointer, which stays put
      // however the grid reflows around it.
      const over = document.elementFromPoint(event.clientX, event.clientY)?.closest('#codes .account-list > .account');
      if (!over || over === drag.item) return;
      const following = drag.item.compareDocumentPosition(over) & Node.DOCUMENT_POSITION_FOLLOWING;
      list.insertBefore(drag.item, following ? over.nextElementSibling : over);
      return;
    }
    const others = [...list.children].filter((other) => other !== drag.item);
    const before = others.find((other) => {
      const box = other.getBoundingClientRect();
      return event.clientY < box.top + box.height / 2;
    });
    if (before) {
      if (drag.item.nextElementSibling !== before) list.insertBefore(drag.item, before);
    } else if (list.lastElementChild !== drag.item) {
      list.append(drag.item);
    }
  });

  // The list's refreshes wait while a row is being dragged. A move's answer is a fresh list;
  // a drag that ends without one asks for the refresh it held back.
  let heldBack = false;
  const finish = (event, keep) => {
    if (!drag || event.pointerId !== drag.pointerId) return;
    const { item, moved, next } = drag;
    drag = null;
    item.classList.remove('dragging');
    document.body.classList.remove('reordering');
    const saving = moved && keep && item.nextElementSibling !== next;
    if (moved && !keep) item.parentElement.insertBefore(item, next);
    if (saving) saveMove(item, item.nextElementSibling, item.previousElementSibling);
    const list = document.getElementById('codes');
    if (heldBack && !saving && list) window.htmx.trigger(list, 'refresh');
    heldBack = false;
  };
  // The browser's own dragging of an icon image would take the pointer away.
  document.addEventListener('dragstart', (event) => {
    if (event.target.closest && event.target.closest('#codes .account > .avatar')) event.preventDefault();
  });
  document.addEventListener('pointerup', (event) => finish(event, true));
  document.addEventListener('pointercancel', (event) => finish(event, false));

  document.addEventListener('htmx:beforeRequest', (event) => {
    const id = event.detail.elt && event.detail.elt.id;
    if (drag && (id === 'codes' || id === 'codes-clock')) {
      event.preventDefault();
      heldBack = true;
    }
  });
}

function initUsed() {
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('#codes .account:not(.account-shared) button.code');
    const url = button && accountUrl(document.getElementById('codes').dataset.usedUrl, button.closest('.account'));
    if (!url) return;
    fetch(url, {
      method: 'POST',
      headers: { 'X-CSRFToken': csrfToken() },
      credentials: 'same-origin',
      keepalive: true,
    }).catch(() => {});
  });
}

function initConfirm() {
  document.addEventListener('submit', (event) => {
    const form = event.target.closest('form[data-confirm]');
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

function initSearchStatus() {
  const tools = document.getElementById('list-tools');
  const status = document.getElementById('list-status');
  if (!tools || !status) return;
  tools.addEventListener('htmx:afterRequest', () => {
    const list = document.getElementById('codes');
    if (list) status.textContent = list.dataset.countText || '';
  });
}

export function initAccountsList() {
  initKeys();
  initDrag();
  initUsed();
  initConfirm();
  initSearchStatus();
}
