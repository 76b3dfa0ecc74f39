// Builds the FileDescriptorSet that server reflection serves (dist/proto/descriptors.binpb): the
// public API files exactly as written (file names, imports, snake_case fields, comments), plus the
// gRPC health and reflection protocols, so standard clients (grpcurl, Python's protobuf, k6) can
// resolve every served service. buf compiles the files; the sets are concatenated, which is how
// protobuf merges a repeated field (FileDescriptorSet.file), so the result is one valid set.
// The internal node-to-node API (tapline/internal) is left out: it is not served on the public port.
// A second set (dist/proto/wire-schemas.binpb) holds every file, the internal API too: the servers
// check each request's wire format against its message type before decoding it
// (services/common/wire-check.ts), on the internal port as on the public one.
const { execFileSync } = require('node:child_process');
const { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { dirname, join } = require('node:path');

const root = join(__dirname, '..');
const buf = join(root, 'node_modules', '.bin', 'buf');
const out = join(root, 'dist', 'proto', 'descriptors.binpb');
const wireSchemasOut = join(root, 'dist', 'proto', 'wire-schemas.binpb');

function build(args) {
  const scratch = mkdtempSync(join(tmpdir(), 'tapline-descriptors-'));
  try {
    const file = join(scratch, 'set.binpb');
    execFileSync(buf, ['build', ...args, '-o', file], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    return readFileSync(file);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// The standard protocols, under the file names other gRPC implementations use for them.
function standardProtocols() {
  const scratch = mkdtempSync(join(tmpdir(), 'tapline-grpc-protos-'));
  try {
    const health = join(dirname(require.resolve('grpc-health-check/package.json')), 'proto/health/v1/health.proto');
    const reflection = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection');
    mkdirSync(join(scratch, 'grpc/health/v1'), { recursive: true });
    cpSync(health, join(scratch, 'grpc/health/v1/health.proto'));
    for (const version of ['v1', 'v1alpha']) {
      mkdirSync(join(scratch, 'grpc/reflection', version), { recursive: true });
      cpSync(join(reflection, version, 'reflection.proto'), join(scratch, 'grpc/reflection', version, 'reflection.proto'));
    }
    return build([scratch]);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const api = build(['proto', '--path', 'proto/tapline/v1']);
const everything = build(['proto']);
const standard = standardProtocols();
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, Buffer.concat([api, standard]));
writeFileSync(wireSchemasOut, Buffer.concat([everything, standard]));
