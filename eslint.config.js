import tseslint from 'typescript-eslint'
import { boundaryConfigs } from './eslint.boundaries.js'

export default tseslint.config(
  // ui/src is linted too (typescript-eslint's rules on its .ts and .tsx files).
  { ignores: ['dist/', 'node_modules/', 'ui/dist/', 'ui/node_modules/', 'data/', 'bench/out/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'src/**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  // Dependencies point one way (docs/ARCHITECTURE.md).
  ...boundaryConfigs(),
)
