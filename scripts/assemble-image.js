// Assembles the files of the runtime image into a directory (argument 1): the compiled services,
// actors and generated code from dist/ (no tests, load tests, tools or source maps, nor the
// development-only processes), the Lua scripts beside the store, the descriptor set reflection
// serves, and package.json + package-lock.json for `npm ci --omit=dev`. The Dockerfile runs it in
// its build stage; scripts/verify-image-layout.sh runs it on a host to check the same layout.
// Run after `npm run build`.
const { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } = require('node:fs');
const { join, relative } = require('node:path');

const root = join(__dirname, '..');
const target = process.argv[2];
if (!target) {
  process.stderr.write('usage: node scripts/assemble-image.js TARGET_DIR\n');
  process.exit(2);
}

// What runs in the image, under dist/. Development tools (tools/: local Redis/ClickHouse, the demo
// client, the echo server, the PSP simulator) and tests are outside these folders and never ship.
// wire-schemas.binpb: the request types every server decodes strictly against (services/common/wire-check.ts).
const included = ['dist/actors', 'dist/gen', 'dist/services', 'dist/proto/descriptors.binpb', 'dist/proto/wire-schemas.binpb'];

function keep(path) {
  const rel = relative(root, path).split('\\').join('/');
  return !rel.endsWith('.map') && !rel.endsWith('.d.ts');
}

rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
for (const entry of included) {
  const source = join(root, entry);
  if (!existsSync(source)) throw new Error(`${entry} is missing: run npm run build first`);
  cpSync(source, join(target, entry), { recursive: true, filter: keep });
}
for (const file of ['package.json', 'package-lock.json']) cpSync(join(root, file), join(target, file));

// Fail loudly if a runtime file the services need did not make it.
for (const required of [
  'dist/services/authorizer/main.js',
  'dist/services/streamer/main.js',
  'dist/services/reports/main.js',
  'dist/services/authorizer/store/commit.lua',
  'dist/services/authorizer/store/cluster.lua',
  'dist/proto/descriptors.binpb',
  'dist/proto/wire-schemas.binpb',
]) {
  if (!existsSync(join(target, required)) || statSync(join(target, required)).size === 0) throw new Error(`image layout lacks ${required}`);
}
const count = (dir) => readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? count(join(dir, e.name)) : 1), 0);
process.stdout.write(`assembled ${count(target)} files into ${target}\n`);
