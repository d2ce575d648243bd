import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';

export default tseslint.config(
  { ignores: ['**/dist/**', 'packages/server/dist-admin/**', '**/node_modules/**', '**/test-artifacts/**', 'bench/results/**', 'docs/api/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    // Close codes come from the catalogue (`CloseCode` in @herald/shared,
    // listed in docs/errors.md), never as bare numbers.
    files: ['packages/*/src/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name=/^(close|terminate)$/] > Literal.arguments[raw=/^[0-9]+$/]",
          message: 'Use a CloseCode constant from @herald/shared (docs/errors.md lists them).',
        },
      ],
    },
  },
  {
    // React code: the rules of hooks, the effect dependency check, and the
    // React Compiler's checks (purity, refs, state updates in effects).
    files: ['packages/client/src/react/**', 'packages/admin-ui/src/**', 'examples/chat-web/src/**'],
    ...reactHooks.configs.flat['recommended-latest'],
  },
  {
    files: ['examples/**/src/main.ts', '**/test/**', 'bench/**', 'docs/tour/**', 'scripts/release/**'],
    rules: { 'no-console': 'off' },
  },
);
