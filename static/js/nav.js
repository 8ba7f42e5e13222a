/**
 * The main navigation's "More" menu (templates/partials/nav.html) is a <details>: it opens and
 * closes without JavaScript. This adds what a menu is expected to do besides: close on Escape
 * (the focus back on its button), on a click elsewhere, and once one of its links is chosen.
 *
 * @module nav
 */

function openMenus() {
  return [...document.querySelectorAll('details.nav-menu[open]')];
}

export function initNav() {
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    for (const menu of openMenus()) {
      menu.open = false;
      if (menu.contains(document.activeElement)) menu.querySelector('summary').focus();
    }
  });
  document.addEventListener('click', (event) => {
    for (const menu of openMenus()) {
      const inside = menu.contains(event.target);
      if (!inside || event.target.closest('.nav-menu-list a')) menu.open = false;
    }
  });
}
