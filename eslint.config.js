// Lint for src/, test/ and bench/: typescript-eslint's strict, type-aware rules. Formatting is
// prettier's job (package.json "prettier"); the line-length rule catches what prettier cannot
// wrap (long strings and comments).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/results/', 'coverage/', '.test-results/', 'infra/', 'docker/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: ['./test/tsconfig.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      'max-len': ['error', { code: 140, ignoreUrls: true, ignoreRegExpLiterals: true }],
      // Numbers and booleans read fine in messages and URLs.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `(x) => done(x)` callbacks are the hook style Fastify documents.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
    },
  },
  {
    // Tests and the bench read JSON bodies and assert on their shape, and a `!` that is wrong fails
    // the test at once: typing every parsed body would add noise, not safety.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      // Teardown guards (`srv?.stop()` after a beforeAll that may have failed) and flags flipped by
      // async callbacks look unnecessary to the type checker; they are not.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // Route handlers in test apps are async by Fastify's contract.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Fastify plugins and route modules are async functions by contract (avvio awaits them),
    // whether or not they await anything themselves.
    files: ['src/routes/**/*.ts', 'src/plugins/**/*.ts'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);
