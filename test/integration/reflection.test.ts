// Proves that server reflection serves what standard clients accept, using a client that shares
// nothing with the server's code: it speaks the reflection protocol (loaded from the protocol's
// own .proto), builds a registry from the served files with @bufbuild/protobuf, and calls the API
// and the health service through that registry alone, over a real socket. It checks the files'
// real names, imports and snake_case fields, that a real Authorize reply decodes, that
// grpc.health.v1.Health resolves by symbol, and, where Python's protobuf is installed (scripts/
// ensure-system-deps.sh installs it), that Python's descriptor pool accepts every served file.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ClientAccess } from '../../tools/client/access';
import * as protoLoader from '@grpc/proto-loader';
import {
  create,
  createFileRegistry,
  fromBinary,
  fromJson,
  toBinary,
  toJson,
  type FileRegistry,
  type DescMessage,
} from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { TaplineClient } from '../../tools/client/tapline-client';
import { startInProcessNode, startTestRedis, accessTo } from '../support/harness';

const call_deadline_ms = 10_000;
/** Debian's Python, which python3-protobuf installs for (a python3 earlier on PATH may be another one). */
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

interface ReflectionResponse {
  readonly list_services_response?: { readonly service: { readonly name: string }[] };
  readonly file_descriptor_response?: { readonly file_descriptor_proto: Buffer[] };
  readonly error_response?: { readonly error_code: number; readonly error_message: string };
}

/** A reflection v1 client built from the protocol's published .proto, not from the server. */
class ReflectionClient {
  private readonly client: grpc.Client & {
    ServerReflectionInfo(metadata: grpc.Metadata): grpc.ClientDuplexStream<unknown, ReflectionResponse>;
  };

  constructor(
    address: string,
    credentials: grpc.ChannelCredentials,
    options: grpc.ChannelOptions,
    private readonly metadata: () => grpc.Metadata = () => new grpc.Metadata(),
  ) {
    const protoFile = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto');
    const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(protoFile, { keepCase: true })) as unknown as {
      grpc: {
        reflection: {
          v1: {
            ServerReflection: new (
              address: string,
              credentials: grpc.ChannelCredentials,
              options: grpc.ChannelOptions,
            ) => ReflectionClient['client'];
          };
        };
      };
    };
    this.client = new loaded.grpc.reflection.v1.ServerReflection(address, credentials, options);
  }

  /** One request on its own stream; the answer or the protocol's error response. */
  ask(request: Record<string, unknown>): Promise<ReflectionResponse> {
    return new Promise((resolve, reject) => {
      const stream = this.client.ServerReflectionInfo(this.metadata());
      stream.once('data', (response: ReflectionResponse) => {
        resolve(response);
        stream.end();
      });
      stream.once('error', reject);
      stream.write(request);
    });
  }

  async files(request: Record<string, unknown>): Promise<Buffer[]> {
    const response = await this.ask(request);
    if (response.file_descriptor_response === undefined)
      throw new Error(`reflection refused ${JSON.stringify(request)}: ${JSON.stringify(response.error_response)}`);
    return response.file_descriptor_response.file_descriptor_proto;
  }

  close(): void {
    this.client.close();
  }
}

/** A registry of the served files; a file set lists imports before their importers, as here. */
function registryOf(files: Buffer[]): FileRegistry {
  const pending = new Map(files.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes)).map((file) => [file.name, file]));
  const ordered = [];
  while (pending.size > 0) {
    const ready = [...pending.values()].filter((file) => file.dependency.every((name) => !pending.has(name)));
    assert.ok(ready.length > 0, `the served files' imports resolve among them; left: ${[...pending.keys()].join(', ')}`);
    for (const file of ready) {
      ordered.push(file);
      pending.delete(file.name);
    }
  }
  return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
}

function unary(client: grpc.Client, path: string, input: DescMessage, output: DescMessage, request: unknown): Promise<unknown> {
  const message = fromJson(input, request as never);
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      () => Buffer.from(toBinary(input, message)),
      (bytes: Buffer) => fromBinary(output, bytes),
      {},
      { deadline: Date.now() + call_deadline_ms },
      (error, reply) => (error ? reject(error) : resolve(toJson(output, reply as never, { useProtoFieldName: true }))),
    );
  });
}

function messageOf(registry: FileRegistry, name: string): DescMessage {
  const found = registry.getMessage(name);
  assert.ok(found, `the served files define ${name}`);
  return found;
}

describe('server reflection, as a client that shares no code with the server sees it', function () {
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let setup: TaplineClient;
  let reflection: ReflectionClient;
  let operatorReflection: ReflectionClient;
  let address: string;
  let access: ClientAccess;

  before(async function () {
    redis = await startTestRedis('reflection');
    node = await startInProcessNode(redis.url);
    access = await accessTo(node);
    address = access.endpoints.terminal;
    setup = new TaplineClient(access);
    // Each door describes what it serves to the callers it admits: a terminal, an operator.
    reflection = new ReflectionClient(address, await access.terminalCredentials('till-r'), access.channelOptions);
    const token = await access.operatorToken('/tapline.v1.AdminService/IssueCard');
    operatorReflection = new ReflectionClient(access.endpoints.operator, access.operatorCredentials(), access.channelOptions, () => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${token}`);
      return metadata;
    });
    await setup.registerTerminal('till-r', 'bar-reflect');
    await setup.issueCard('card-r', 1_000);
  });

  after(async function () {
    reflection?.close();
    operatorReflection?.close();
    setup?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('lists the API, health and reflection services of each door, and not the internal node-to-node API', async function () {
    for (const [door, client, api] of [
      ['terminal', reflection, 'tapline.v1.AuthorizationService'],
      ['operator', operatorReflection, 'tapline.v1.AdminService'],
    ] as const) {
      const response = await client.ask({ list_services: '*' });
      const names = (response.list_services_response?.service ?? []).map((service) => service.name).sort();
      for (const expected of [api, 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection'])
        assert.ok(names.includes(expected), `the ${door} door lists ${expected}; listed: ${names.join(', ')}`);
      assert.ok(!names.some((name) => name.startsWith('tapline.internal')), `the internal API is not listed; listed: ${names.join(', ')}`);
    }
  });

  it('serves tapline/v1/authorization.proto by name with its imports, snake_case fields and maps', async function () {
    const files = await reflection.files({ file_by_filename: 'tapline/v1/authorization.proto' });
    const names = files.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
    assert.equal(names[0], 'tapline/v1/authorization.proto', `the asked file comes first; got ${names.join(', ')}`);
    assert.ok(names.includes('tapline/v1/types.proto'), `its import comes with it; got ${names.join(', ')}`);
    const registry = registryOf(files);
    const request = messageOf(registry, 'tapline.v1.AuthorizeRequest');
    assert.deepEqual(
      ['terminal_id', 'terminal_txn_number', 'card_id'].map((name) => request.fields.find((field) => field.name === name)?.name),
      ['terminal_id', 'terminal_txn_number', 'card_id'],
      'fields keep their proto (snake_case) names',
    );
    const fleet = registryOf(await reflection.files({ file_containing_symbol: 'tapline.v1.LoyaltyPolicy' }));
    const multiplier = messageOf(fleet, 'tapline.v1.LoyaltyPolicy').fields.find((field) => field.name === 'group_multiplier_bp');
    assert.equal(multiplier?.fieldKind, 'map', 'a map field is served as a map, not as an explicit entry message');
  });

  it('a real Authorize reply decodes with the registry built from the served files', async function () {
    const registry = registryOf(await reflection.files({ file_containing_symbol: 'tapline.v1.AuthorizationService' }));
    const service = registry.getService('tapline.v1.AuthorizationService');
    const method = service?.methods.find((m) => m.name === 'Authorize');
    assert.ok(method, 'AuthorizationService.Authorize resolves');
    const client = new grpc.Client(address, await access.terminalCredentials('till-r'), access.channelOptions);
    try {
      const reply = (await unary(client, '/tapline.v1.AuthorizationService/Authorize', method.input, method.output, {
        terminal_id: 'till-r',
        terminal_txn_number: '1',
        card_id: 'card-r',
        amount: { amount_minor: '350', currency: 'EUR' },
        kind: 'AUTHORIZATION_KIND_PURCHASE',
      })) as Record<string, unknown>;
      assert.equal(reply['outcome'], 'OUTCOME_APPROVED', `reply: ${JSON.stringify(reply)}`);
      assert.deepEqual(reply['balance_after'], { amount_minor: '650', currency: 'EUR' }, `reply: ${JSON.stringify(reply)}`);
    } finally {
      client.close();
    }
  });

  it('resolves grpc.health.v1.Health by symbol and checks health through it', async function () {
    const files = await reflection.files({ file_containing_symbol: 'grpc.health.v1.Health' });
    assert.equal(fromBinary(FileDescriptorProtoSchema, files[0] ?? Buffer.alloc(0)).name, 'grpc/health/v1/health.proto');
    const registry = registryOf(files);
    // Health is public: TLS verifying the server, no client certificate.
    const client = new grpc.Client(address, grpc.credentials.createSsl(access.ca), access.channelOptions);
    try {
      const check = (await unary(
        client,
        '/grpc.health.v1.Health/Check',
        messageOf(registry, 'grpc.health.v1.HealthCheckRequest'),
        messageOf(registry, 'grpc.health.v1.HealthCheckResponse'),
        { service: 'tapline.v1.AuthorizationService' },
      )) as Record<string, unknown>;
      assert.equal(check['status'], 'SERVING');
    } finally {
      client.close();
    }
  });

  it("Python's protobuf accepts every served file into a descriptor pool", async function () {
    const probe = spawnSync(python, ['-c', 'import google.protobuf'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      process.stdout.write(
        '      (skipped: Python 3 with protobuf is not installed; scripts/ensure-system-deps.sh installs python3-protobuf)\n',
      );
      this.skip();
    }
    const byName = new Map<string, Buffer>();
    // Every file either door serves: the terminal door's API and the operator door's.
    for (const client of [reflection, operatorReflection]) {
      const listed = await client.ask({ list_services: '*' });
      for (const service of listed.list_services_response?.service ?? [])
        for (const bytes of await client.files({ file_containing_symbol: service.name }))
          byName.set(fromBinary(FileDescriptorProtoSchema, bytes).name, bytes);
    }
    const script = [
      'import base64, sys',
      'from google.protobuf import descriptor_pb2, descriptor_pool',
      'pool = descriptor_pool.DescriptorPool()',
      'files = [descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(line)) for line in sys.stdin.read().split()]',
      'pending = {f.name: f for f in files}',
      'while pending:',
      '    ready = [f for f in pending.values() if all(d not in pending for d in f.dependency)]',
      '    assert ready, "unresolvable imports: %s" % sorted(pending)',
      '    for f in ready:',
      '        pool.Add(f)',
      '        del pending[f.name]',
      'policy = pool.FindMessageTypeByName("tapline.v1.LoyaltyPolicy")',
      'print(policy.fields_by_name["group_multiplier_bp"].message_type.GetOptions().map_entry,',
      '      pool.FindServiceByName("grpc.health.v1.Health").full_name,',
      '      pool.FindFileByName("tapline/v1/authorization.proto").name)',
    ].join('\n');
    const run = spawnSync(python, ['-c', script], {
      input: [...byName.values()].map((bytes) => bytes.toString('base64')).join('\n'),
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, `python3 refused the served files: ${run.stderr}`);
    assert.equal(run.stdout.trim(), 'True grpc.health.v1.Health tapline/v1/authorization.proto');
  });
});
