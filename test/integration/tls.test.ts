// Proves the node's TLS modes with real certificates made by openssl: with a CA configured, a
// client presenting a certificate signed by it is served (mTLS); a client without a certificate
// and a plaintext client are refused and change nothing.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { TaplineClient } from '../../tools/client/tapline-client';
import { startInProcessNode, startTestRedis, testDataDir } from '../support/harness';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCertificates(dir: string): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=tapline-test-ca',
  ]);
  for (const [name, subject, extension] of [
    ['server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    ['client', '/CN=terminal-gateway', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
    execFileSync('sh', ['-c', `printf '%s\\n' '${extension}' > ${name}.ext`], { cwd: dir });
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ]);
  }
}

describe('TLS and mutual TLS (real certificates, real gRPC)', function () {
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let dir: string;

  before(async function () {
    dir = testDataDir('tls');
    makeCertificates(dir);
    redis = await startTestRedis('tls');
    node = await startInProcessNode(redis.url, {
      TAPLINE_TLS_CERT_FILE: join(dir, 'server.crt'),
      TAPLINE_TLS_KEY_FILE: join(dir, 'server.key'),
      TAPLINE_TLS_CA_FILE: join(dir, 'ca.crt'),
    });
  });

  after(async function () {
    await node?.shutdown();
    await redis?.stop();
  });

  const address = (): string => `127.0.0.1:${node.grpcPort}`;
  const read = (name: string): Buffer => readFileSync(join(dir, name));

  it('serves a client that presents a certificate signed by the configured CA', async function () {
    const client = new TaplineClient(
      address(),
      { 'grpc.ssl_target_name_override': 'localhost' },
      grpc.credentials.createSsl(read('ca.crt'), read('client.key'), read('client.crt')),
    );
    try {
      const reply = await client.registerTerminal('tls-pos', 'tls-merchant');
      assert.equal(reply.terminalId, 'tls-pos');
    } finally {
      client.close();
    }
  });

  it('refuses a TLS client without a certificate, and a plaintext client', async function () {
    for (const credentials of [grpc.credentials.createSsl(read('ca.crt')), grpc.credentials.createInsecure()]) {
      const client = new TaplineClient(address(), { 'grpc.ssl_target_name_override': 'localhost' }, credentials);
      try {
        await assert.rejects(client.registerTerminal('tls-other', 'tls-merchant', 3_000), (error: grpc.ServiceError) => {
          assert.equal(error.code, grpc.status.UNAVAILABLE, `expected UNAVAILABLE, got ${grpc.status[error.code]}: ${error.details}`);
          return true;
        });
      } finally {
        client.close();
      }
    }
  });
});
