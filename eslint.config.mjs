// ESLint flat config: typescript-eslint's recommended rules (syntax only, no type
// information, so `npm run lint` stays fast) over the library, the app, the
// scripts and the tests, plus a hard limit of 150 characters a line.
// Formatting is prettier's job (.prettierrc.json); max-len catches what prettier
// cannot wrap: long strings, template literals and comments, which are split by hand.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'build/**',
      'imports/**',
      'cdk.out/**',
      'coverage/**',
      '.bench/**',
      '.api-reference-*/**',
      // served or bundled as data by the tests (nginx content, script bundles): byte-stable inputs of snapshots
      'test/fixtures/**/*.js',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    languageOptions: {
      ecmaVersion: 2022,
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The one layout rule prettier cannot enforce: it does not split strings or comments.
      // (Deprecated in core since 8.53 but kept until ESLint 11; @stylistic/max-len is its successor.)
      'max-len': ['error', { code: 150, tabWidth: 2, ignoreUrls: true }],
      // Manifests, API answers and schemas are untyped JSON walked by path (`o.spec.template.spec`), and the
      // testing entry's public K8sObject is an open record: `any` is the deliberate type there.
      '@typescript-eslint/no-explicit-any': 'off',
      // Errors are rethrown with a message that names the input and already carries the caught error's
      // code or message (the house style for errors); a `cause` chain would add nothing users see.
      'preserve-caught-error': 'off',
      // A leading underscore marks a parameter kept for its position (tsc's noUnusedParameters agrees).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    // Plain CommonJS: the KV server (shipped in a ConfigMap, run by a stock node image), the bins and build scripts.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: {
      // require() is how CommonJS imports; these files cannot use `import`.
      '@typescript-eslint/no-require-imports': 'off',
      // `const crypto = require('node:crypto')` shadows Node's Web Crypto global on purpose (the module, not the global).
      'no-redeclare': ['error', { builtinGlobals: false }],
    },
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.jest } },
    rules: {
      // Tests load the plain-JS KV server modules by a computed path (require(path.join(dir, 'app.js'))),
      // and the docs examples' loader maps module ids to lib/ at run time: neither can be an `import`.
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
);
