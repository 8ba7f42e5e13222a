// ESLint for the project's own JavaScript (`make lint`, so `make test`): the browser modules in
// static/js, the service worker, the Node tests and this file. Third-party code is not ours
// to lint: static/vendor is copied from node_modules by scripts/vendor.sh, and static/dist holds
// copies of static/ under content-hashed names (scripts/build_static.py).
import js from '@eslint/js';
import globals from 'globals';

export default [
  {
    ignores: ['static/vendor/', 'static/dist/', 'static/.dist.new/', 'static/.dist.old/', 'node_modules/', '.venv/', 'instance/', 'test-results/', 'mutants/'],
  },
  js.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      eqeqeq: ['error', 'always'],
      'no-var': 'error',
      'prefer-const': 'error',
      'no-implicit-coercion': 'error',
      'no-shadow': 'error',
      'no-throw-literal': 'error',
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'all', caughtErrorsIgnorePattern: '^_' }],
      'no-use-before-define': ['error', { functions: false, classes: true, variables: true }],
    },
  },
  {
    // ES modules loaded by the pages (<script type="module">); htmx is the vendored global script.
    files: ['static/js/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: { ...globals.browser, htmx: 'readonly' },
    },
  },
  {
    // A classic script the browser runs as the service worker, with the server filling in its placeholders.
    files: ['service-worker.js'],
    languageOptions: { sourceType: 'script', globals: globals.serviceworker },
  },
  {
    files: ['tests/js/**/*.mjs', 'eslint.config.js'],
    languageOptions: { sourceType: 'module', globals: globals.node },
  },
];
