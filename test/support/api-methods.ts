// Every gRPC method a node answers, read from the compiled proto files (dist/proto/wire-schemas.binpb,
// built by scripts/build-descriptors.js): the public services, the standard health and reflection
// services, and the internal node-to-node API. Tests that must cover "every method" enumerate them
// here, so a method added to a .proto file is covered without editing the test.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFileRegistry, fromBinary, type DescMessage, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { projectRoot } from '../../services/common/paths';

export type MethodKind = 'unary' | 'server_streaming' | 'client_streaming' | 'bidi_streaming';

export interface ApiMethod {
  /** "/package.Service/Method" */
  readonly path: string;
  /** "package.Service" */
  readonly service: string;
  readonly kind: MethodKind;
  readonly input: DescMessage;
  /**
   * How a client reaches it: on a port of its own ('direct'), or only as a forwarded call inside
   * ClusterService.Forward ('forwarded': the per-card fan-out calls, which no port serves).
   */
  readonly reach: 'direct' | 'forwarded';
}

/** The internal service no port serves: its calls reach a node only inside Forward frames. */
const forwarded_only_services = new Set(['tapline.internal.v1.CardFanoutService']);

let registry: FileRegistry | undefined;

/** The registry of every compiled file (public, internal, health, reflection). */
export function apiRegistry(): FileRegistry {
  registry ??= createFileRegistry(
    fromBinary(FileDescriptorSetSchema, readFileSync(join(projectRoot(), 'dist', 'proto', 'wire-schemas.binpb'))),
  );
  return registry;
}

/** Every method of every service in the compiled files, in file order. */
export function apiMethods(): ApiMethod[] {
  const methods: ApiMethod[] = [];
  for (const type of apiRegistry()) {
    if (type.kind !== 'service') continue;
    for (const method of type.methods) {
      methods.push({
        path: `/${type.typeName}/${method.name}`,
        service: type.typeName,
        kind: method.methodKind,
        input: method.input,
        reach: forwarded_only_services.has(type.typeName) ? 'forwarded' : 'direct',
      });
    }
  }
  return methods;
}
