// Copies non-TypeScript runtime files (Lua scripts) next to the compiled code in dist/.
const { cpSync, mkdirSync, readdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
for (const dir of ['services/authorizer/store']) {
  mkdirSync(join(root, 'dist', dir), { recursive: true });
  for (const file of readdirSync(join(root, dir)).filter((name) => name.endsWith('.lua'))) {
    cpSync(join(root, dir, file), join(root, 'dist', dir, file));
  }
}
