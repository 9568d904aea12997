// ESLint with typescript-eslint's type-aware rules over the product, its tests and its scripts.
// Formatting is Prettier's (`npm run lint:format`); these rules are about what the code does.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'media/webview/',
      'node_modules/',
      '.tmp/',
      '.tools/',
      '.bench/',
      '.data/',
      'out/',
      'test-output/',
      '.vscode-test/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
  },
  {
    rules: {
      // The protocol is declared as namespaces with a literal method, as vscode-eslint does (DESIGN.md).
      '@typescript-eslint/no-namespace': 'off',
      // An async method that implements an async interface (Engine, a handler) need not await.
      '@typescript-eslint/require-await': 'off',
      // A handler declared before the object it calls is made (the language client's error handler).
      // A caught value is passed on as it came (unknown), as Node's own callbacks do.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // A leading underscore names what is left out on purpose (a rest object without a field).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // Tests probe the JSON the daemon answers (JSON.parse gives any); the product may not.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // The extension loads its bundles when first needed, with require (esbuild.mjs).
    files: ['client/ctx.ts', 'client/extension.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off', '@typescript-eslint/no-unsafe-return': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
