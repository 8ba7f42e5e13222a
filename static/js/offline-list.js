/**
 * The offline page's code list: the markup and look of the online list
 * (templates/partials/account.html), with every code computed here from the unlocked copy.
 *
 * Like the server (vault.next_refresh_ms), it recomputes only when something changes: at a
 * period boundary, or when the preview of the next code starts. The clock is the device's
 * corrected by the offset to the server's clock measured when the copy was saved, so codes
 * match the server's even on a device whose clock is off.
 *
 * @module offline-list
 */

import { startRings } from './codes.js';
import { generateCode, secondsRemaining } from './otp.js';
import { drawTile } from './tiles.js';

/** The list shows the next code this many seconds before a period ends (vault.PREVIEW_SECONDS). */
const PREVIEW_SECONDS = 10;
/** Recompute this long after a boundary, never a hair before it (vault.BOUNDARY_MARGIN_MS). */
const BOUNDARY_MARGIN_MS = 50;

/** Digits in groups that are easy to read aloud, as the `group_code` filter does. */
export function groupCode(code) {
  if (!code || !/^\d+$/.test(code) || code.length < 6) return code || '';
  const split = Math.floor(code.length / 2);
  return `${code.slice(0, split)} ${code.slice(split)}`;
}

/** Fill one list item from the template; returns the parts the ticks update. */
function buildItem(template, account, copyLabel) {
  const item = template.content.firstElementChild.cloneNode(true);
  const label = account.issuer || account.name;
  item.id = `account-${account.uuid}`;
  item.dataset.search = `${account.issuer} ${account.name}`.toLowerCase();
  drawTile(item.querySelector('.avatar'), label || '');
  item.querySelector('.issuer').textContent = label;
  const name = item.querySelector('.name');
  if (account.issuer && account.name) name.textContent = account.name;
  else name.remove();
  // The button's name: what it does, then the code it shows (labelled by both, as on the live list).
  const button = item.querySelector('.code');
  const copyText = item.querySelector('.copy-label');
  copyText.id = `copy-label-${account.uuid}`;
  copyText.textContent = copyLabel.replace('{label}', label);
  button.firstElementChild.id = `code-${account.uuid}`;
  button.setAttribute('aria-labelledby', `${copyText.id} ${button.firstElementChild.id}`);
  const timed = account.type !== 'hotp';
  if (timed) {
    item.querySelector('.hotp-note').remove();
    item.dataset.period = String(account.period);
  }
  return {
    account,
    item,
    button,
    digits: button.firstElementChild,
    next: item.querySelector('.next-code'),
    nextDigits: item.querySelector('.next-code > b'),
  };
}

/** "30 seconds" in the page's language (CLDR's words and plural forms, from the browser). */
function periodName(period) {
  const lang = document.documentElement.lang || 'en';
  return new Intl.NumberFormat(lang, { style: 'unit', unit: 'second', unitDisplay: 'long' }).format(period);
}

/**
 * The countdown of each period of the time-based accounts, as partials/countdown.html draws it
 * online: a ring round the seconds left (turned and counted by codes.js's startRings). With
 * more than one period, each says its period, and so do the rows of any but the first.
 */
function buildCountdowns(container, entries) {
  const periods = [...new Set(entries.filter((e) => e.account.type !== 'hotp').map((e) => e.account.period))];
  periods.sort((a, b) => a - b);
  container.replaceChildren(
    ...periods.map((period) => {
      const countdown = document.createElement('p');
      countdown.className = 'countdown';
      countdown.dataset.period = String(period);
      const ring = document.createElement('span');
      ring.className = 'countdown-ring';
      const seconds = document.createElement('span');
      seconds.className = 'countdown-seconds';
      ring.append(seconds);
      countdown.append(ring);
      if (periods.length > 1) {
        const name = document.createElement('span');
        name.textContent = periodName(period);
        countdown.append(name);
      }
      return countdown;
    }),
  );
  container.hidden = !periods.length;
  for (const { account, item } of entries) {
    if (account.type === 'hotp' || account.period === periods[0]) continue;
    const mark = document.createElement('span');
    mark.className = 'period-mark';
    mark.textContent = periodName(account.period);
    item.querySelector('.account-text').append(mark);
  }
}

/** The code, or an em dash for an account this version cannot compute (it says why on hover). */
async function codeOrDash(account, nowMs) {
  try {
    return { code: await generateCode(account, nowMs) };
  } catch (err) {
    return { code: '', problem: err.message };
  }
}

export class CodeList {
  /**
   * @param {HTMLElement} list the `ul.account-list` to fill
   * @param {HTMLTemplateElement} template one `li.account`
   * @param {string} copyLabel the copy button's label, with `{label}` for the account
   * @param {HTMLElement} countdowns where the countdowns of the accounts' periods go
   */
  constructor(list, template, copyLabel, countdowns) {
    this.list = list;
    this.countdowns = countdowns;
    this.template = template;
    this.copyLabel = copyLabel;
    this.entries = [];
    this.offsetMs = 0;
    this.timer = null;
  }

  now() {
    return Date.now() + this.offsetMs;
  }

  /** Show the vault's accounts; resolves once every code is on screen. */
  async show(vault) {
    this.stop();
    this.offsetMs = Number(vault.server_offset_ms) || 0;
    this.entries = vault.accounts.map((account) => buildItem(this.template, account, this.copyLabel));
    buildCountdowns(this.countdowns, this.entries);
    this.list.replaceChildren(...this.entries.map((entry) => entry.item));
    await this.update();
    this.restartRings();
  }

  /** Compute every code for the current moment, then wait for the next change. */
  async update() {
    clearTimeout(this.timer);
    const nowMs = this.now();
    await Promise.all(this.entries.map((entry) => this.updateEntry(entry, nowMs)));
    const waits = this.entries
      .filter((entry) => entry.account.type !== 'hotp')
      .flatMap((entry) => {
        const remaining = secondsRemaining(entry.account.period, nowMs);
        return remaining > PREVIEW_SECONDS ? [remaining, remaining - PREVIEW_SECONDS] : [remaining];
      });
    if (waits.length) {
      this.timer = setTimeout(() => this.update(), Math.min(...waits) * 1000 + BOUNDARY_MARGIN_MS);
    }
  }

  async updateEntry(entry, nowMs) {
    const { account } = entry;
    const current = account.type === 'hotp' ? { code: account.next_code || '' } : await codeOrDash(account, nowMs);
    entry.digits.textContent = groupCode(current.code) || '—';
    entry.button.dataset.copy = current.code;
    entry.button.disabled = !current.code;
    entry.button.title = current.problem || '';
    if (account.type === 'hotp') return;
    const remaining = secondsRemaining(account.period, nowMs);
    const preview = remaining <= PREVIEW_SECONDS && current.code;
    entry.next.hidden = !preview;
    if (preview) {
      const upcoming = await codeOrDash(account, nowMs + account.period * 1000);
      entry.nextDigits.textContent = groupCode(upcoming.code);
    }
  }

  /** Start the countdown rings where each period stands now (after sleep, timers are late). */
  restartRings() {
    startRings(this.countdowns, this.now());
  }

  /** Recompute at once: for when the page becomes visible again after a sleep. */
  async resync() {
    if (!this.entries.length) return;
    await this.update();
    this.restartRings();
  }

  /**
   * Show only the accounts whose issuer or name contains `query` (any case).
   *
   * @returns {number} how many are shown
   */
  filter(query) {
    const needle = query.trim().toLowerCase();
    let shown = 0;
    for (const { item } of this.entries) {
      item.hidden = Boolean(needle) && !item.dataset.search.includes(needle);
      if (!item.hidden) shown += 1;
    }
    return shown;
  }

  /** Stop the ticks and take every code off the page. */
  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.entries = [];
    this.list.replaceChildren();
    this.countdowns.replaceChildren();
    this.countdowns.hidden = true;
  }
}
