// The code list's countdown seconds (static/js/codes.js) and its keyboard moves across the grid
// of a wide screen (static/js/accounts-list.js), without a browser.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { gridTarget } from '../../static/js/accounts-list.js';
import { codeOf, secondsLeft, WARNING_SECONDS } from '../../static/js/codes.js';

test('the seconds left count down from the period to 1, never 0', () => {
  const start = 1_700_000_010_000; // a multiple of 30 s
  assert.equal(start % 30_000, 0);
  assert.equal(secondsLeft(start, 30), 30);
  assert.equal(secondsLeft(start + 1, 30), 30);
  assert.equal(secondsLeft(start + 1_000, 30), 29);
  assert.equal(secondsLeft(start + 24_999, 30), 6);
  assert.equal(secondsLeft(start + 25_000, 30), WARNING_SECONDS);
  assert.equal(secondsLeft(start + 29_999, 30), 1);
  assert.equal(secondsLeft(start + 30_000, 30), 30);
});

test('a period that is not 30 s counts its own', () => {
  const minute = 1_700_000_040_000; // a multiple of 60 s
  assert.equal(minute % 60_000, 0);
  assert.equal(secondsLeft(minute + 5_000, 60), 55);
  assert.equal(secondsLeft(minute + 59_500, 60), 1);
});

test('arrow keys follow a grid of three columns', () => {
  // 8 accounts: 0 1 2 / 3 4 5 / 6 7
  assert.equal(gridTarget('ArrowDown', 1, 8, 3), 4);
  assert.equal(gridTarget('ArrowUp', 4, 8, 3), 1);
  assert.equal(gridTarget('ArrowRight', 2, 8, 3), 3);
  assert.equal(gridTarget('ArrowLeft', 3, 8, 3), 2);
  assert.equal(gridTarget('ArrowDown', 5, 8, 3), 8); // past the end: the caller stays put
  assert.equal(gridTarget('Home', 5, 8, 3), 0);
  assert.equal(gridTarget('End', 1, 8, 3), 7);
});

test('in one column the arrows go down and up the list', () => {
  assert.equal(gridTarget('ArrowDown', 0, 4, 1), 1);
  assert.equal(gridTarget('ArrowUp', 3, 4, 1), 2);
});

test('right to left, the arrows mirror', () => {
  assert.equal(gridTarget('ArrowLeft', 1, 8, 3, true), 2);
  assert.equal(gridTarget('ArrowRight', 1, 8, 3, true), 0);
});

test('a copy button copies its digits, not the hidden words that name it', () => {
  const text = (value) => ({ textContent: value });
  const element = (value, ...classes) => ({ textContent: value, classList: { contains: (name) => classes.includes(name) } });
  const listButton = {
    dataset: {},
    childNodes: [element('Copy the code for GitHub 2', 'visually-hidden'), text(' '), element('123 456')],
  };
  assert.equal(codeOf(listButton), '123456');
  assert.equal(codeOf({ dataset: {}, childNodes: [text('1234 5678')] }), '12345678');
  assert.equal(codeOf({ dataset: { copy: '654321' }, childNodes: [] }), '654321');
});
