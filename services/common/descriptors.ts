// The proto files that server reflection serves, as buf compiled them at build time
// (scripts/build-descriptors.js writes dist/proto/descriptors.binpb). Serving the compiled files
// as written, rather than descriptors re-derived from a loaded package, keeps their real names,
// imports, snake_case field names and comments: what grpcurl, Python's protobuf and k6 expect.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import type { ReflectionService } from '@grpc/reflection';

/** The package definition shape @grpc/reflection reads: it indexes `fileDescriptorProtos` only. */
type ReflectedPackage = ConstructorParameters<typeof ReflectionService>[0];

/** Where the build puts the set, relative to this compiled file (dist/services/common). */
export function descriptorSetPath(): string {
  return join(__dirname, '..', '..', 'proto', 'descriptors.binpb');
}

/** The compiled files, one serialized FileDescriptorProto each, in dependency order. */
export function servedFiles(path = descriptorSetPath()): Buffer[] {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(path));
  return set.file.map((file) => Buffer.from(toBinary(FileDescriptorProtoSchema, file)));
}

/**
 * The files as one entry of a package definition: @grpc/reflection decodes every entry's
 * `fileDescriptorProtos` and indexes them by file name and symbol; it reads nothing else of it.
 */
export function servedDescriptors(path = descriptorSetPath()): ReflectedPackage {
  return {
    'tapline.descriptors': { format: 'Protocol Buffer 3 DescriptorProto', type: {}, fileDescriptorProtos: servedFiles(path) },
  };
}
