/**
 * Letter tiles, as webauth/icons.py draws them for the online list: the initials of a name and
 * the index of its colour (`.tile-N`, static/css/app.css). The offline page draws its
 * tiles here, so the same issuer looks the same with and without the network
 * (tests/test_tiles.py compares the two).
 *
 * @module tiles
 */

/** As many colours as webauth.icons.TILE_COLOURS. */
export const TILE_COUNT = 20;

const PARENTHESES = /\([^)]*\)|\[[^\]]*\]/g;
// The spaces of `\s`, spelled out as webauth/icons.py has them.
const SPACES = /[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+/u;
const PADDING = /^[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+|[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+$/gu;
const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;
const SYLLABIC = /^\p{Lo}$/u;

function letters(word) {
  return [...word].filter((ch) => LETTER_OR_DIGIT.test(ch));
}

function wordsOf(text) {
  return text.split(SPACES).map(letters).filter((word) => word.length > 0);
}

/** Up to two letters for a name (webauth.icons.tile_initials). */
export function tileInitials(label) {
  const text = label.normalize('NFC');
  let words = wordsOf(text.replace(PARENTHESES, ' '));
  if (words.length === 0) words = wordsOf(text);
  if (words.length === 0) return '?';
  const first = words[0][0];
  if (SYLLABIC.test(first)) return first;
  let second = '';
  if (words.length > 1) second = words[1][0].toUpperCase();
  else if (words[0].length > 1) second = words[0][1];
  if (second && SYLLABIC.test([...second][0])) second = '';
  return first.toUpperCase() + second;
}

/** The index of a name's colour: FNV-1a of its lower-cased UTF-8 (webauth.icons.tile_colour). */
export function tileColour(label) {
  let value = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(label.normalize('NFC').replace(PADDING, '').toLowerCase())) {
    value = Math.imul(value ^ byte, 0x01000193) >>> 0;
  }
  return value % TILE_COUNT;
}

/** Make `element` the tile for `label`. */
export function drawTile(element, label) {
  element.textContent = tileInitials(label);
  element.classList.add('tile', `tile-${tileColour(label)}`);
}
