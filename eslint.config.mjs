// Lint: the type-aware rules that catch what review misses in async money code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

/** Production code (services/, actors/) must not import tools/ (dev launcher, clients, simulators). */
const no_tools = { group: ['**/tools/**'], message: 'production code must not import tools/ (dev and test only)' };

export default tseslint.config(
  { ignores: ['dist/**', 'gen/**', 'node_modules/**', 'loadtest/k6/**', 'charts/**', '.data/**', '.test-data/**', '.bench/**', 'scripts/*.js', 'scripts/*.mjs', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      'import-x/no-cycle': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // The layers, as import-x sees the paths: the domain (actors/) knows nothing of the services,
    // the generated wire types or the tools; production code never imports tools, tests or load
    // tests; the gRPC layer does not reach into the store; load tests do not reuse test code.
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './actors', from: ['./services', './gen', './tools', './test', './loadtest'], message: 'actors/ is the domain: no services, generated code or tools' },
            { target: './services', from: ['./tools', './test', './loadtest'], message: 'production code must not import dev, test or load-test code' },
            { target: './services/authorizer/grpc', from: './services/authorizer/store', message: 'the gRPC layer decodes and maps; the store is reached through the region or a use case' },
            { target: './loadtest', from: './test', message: 'loadtest must not import test code; share it through tools/' },
          ],
        },
      ],
    },
  },
  {
    // Short functions in what ships (actors/, services/); tests (a describe block is long by
    // nature), the dev tools and the benchmark's orchestration are scripts and not held to it.
    files: ['actors/**/*.ts', 'services/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }] },
  },
  {
    // The domain never casts through unknown.
    files: ['actors/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "TSAsExpression[expression.type='TSAsExpression'][expression.typeAnnotation.type='TSUnknownKeyword']",
          message: 'no `as unknown as` in the domain: model the type, or validate it',
        },
      ],
    },
  },
  {
    // Production code (what the image ships) never depends on the dev and test tools.
    files: ['services/**/*.ts', 'actors/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [no_tools] }] },
  },
  {
    // The gRPC layer decodes and maps; where the store keeps things (the Redis key layout) is not
    // its business. Request idempotency keys are a domain concept: actors/request-keys.ts.
    files: ['services/authorizer/grpc/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [no_tools, { group: ['**/store/keys'], message: 'the gRPC layer must not know the Redis key layout' }] },
      ],
    },
  },
  {
    // The benchmark runs from tools and production code, never from the tests' support code.
    files: ['loadtest/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/test/**'], message: 'loadtest must not import test code; share it through tools/' }] },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
