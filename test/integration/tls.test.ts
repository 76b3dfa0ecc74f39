// Proves that the doors' TLS follows its files without a restart, with real certificates and real
// gRPC: a revoked terminal certificate is refused on the next call (on its open connection too)
// while others keep working; a rewritten node certificate is what new connections see; and a CA
// added to the client CA bundle admits the terminals it signed from then on. The node reads its
// files every TAPLINE_TLS_RELOAD_MS (200 ms in tests); each wait is bounded and says what it saw.

import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { DevCredentials } from '../../tools/devenv/credentials';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { AuthorizationServiceClient } from '../../gen/tapline/v1/authorization';
import { accessTo, startInProcessNode, startTestRedis, testCredentials, testDataDir, waitFor } from '../support/harness';

/** The serial of the certificate a TLS server presents to a new connection. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial.toUpperCase().replace(/^0+/, ''));
    });
    socket.on('error', reject);
  });
}

describe('door TLS follows its files: revocation, rotation, CA bundles (no restart)', function () {
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let dir: string;
  let files: { cert: string; key: string; clientCa: string; revoked: string };
  let admin: TaplineClient;

  before(async function () {
    dir = testDataDir('door-tls');
    const shared = await testCredentials();
    const own = await shared.node('tls-node');
    // The node reads copies this test rewrites.
    files = {
      cert: join(dir, 'node.pem'),
      key: join(dir, 'node-key.pem'),
      clientCa: join(dir, 'clients.pem'),
      revoked: join(dir, 'revoked.txt'),
    };
    copyFileSync(own.cert, files.cert);
    copyFileSync(own.key, files.key);
    copyFileSync(shared.caFile, files.clientCa);
    writeFileSync(files.revoked, '# nothing revoked yet\n');
    redis = await startTestRedis('door-tls');
    node = await startInProcessNode(redis.url, {
      TAPLINE_NODE_ID: 'tls-node',
      TAPLINE_TLS_CERT_FILE: files.cert,
      TAPLINE_TLS_KEY_FILE: files.key,
      TAPLINE_TLS_CLIENT_CA_FILE: files.clientCa,
      TAPLINE_TLS_REVOKED_FILE: files.revoked,
    });
    admin = new TaplineClient(await accessTo(node));
    for (const terminal of ['rv-1', 'rv-2', 'ca-1']) await admin.registerTerminal(terminal, 'tls-merchant');
    await admin.issueCard('tls-card', 100_000);
  });

  after(async function () {
    admin?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('refuses a revoked terminal certificate on its next call, on its open connection too, and only that one', async function () {
    const revokedTerminal = (await admin.terminal('rv-1')) as grpc.Client & { authorize: unknown };
    assert.equal((await admin.authorize(purchase('rv-1', 1, 'tls-card', 10))).approvedAmount?.amountMinor, 10n);
    const serial = (await (await testCredentials()).terminal('rv-1')).serial;
    writeFileSync(files.revoked, `# revoked by the test\n${serial}\n`);
    let seen = '';
    await waitFor(
      'the revocation list is reread and the open connection refused',
      async () => {
        try {
          await admin.authorize(purchase('rv-1', 2, 'tls-card', 10));
          seen = 'approved';
          return false;
        } catch (error) {
          seen = `${(error as grpc.ServiceError).code}: ${(error as grpc.ServiceError).details}`;
          return (error as grpc.ServiceError).code === grpc.status.UNAUTHENTICATED;
        }
      },
      () => seen,
      5_000,
      50,
    );
    assert.ok(revokedTerminal instanceof grpc.Client, 'the same channel (connection) was used throughout');
    assert.equal(
      (await admin.authorize(purchase('rv-2', 1, 'tls-card', 10))).approvedAmount?.amountMinor,
      10n,
      'another terminal still works',
    );
  });

  it('admits terminals of a CA added to the client CA bundle, from then on', async function () {
    const other = await DevCredentials.open(testDataDir('door-tls-other-ca'));
    const terminal = await other.terminal('ca-1');
    const serverCa = readFileSync((await testCredentials()).caFile);
    /** A fresh connection as ca-1 of the other CA: a verdict is made per TLS handshake. */
    const attempt = async (txn: number): Promise<grpc.ServiceError | undefined> => {
      const client = new AuthorizationServiceClient(
        `127.0.0.1:${node.grpcPort}`,
        grpc.credentials.createSsl(serverCa, readFileSync(terminal.key), readFileSync(terminal.cert)),
        { 'grpc.ssl_target_name_override': 'localhost' },
      );
      try {
        await new Promise((resolve, reject) =>
          client.authorize(purchase('ca-1', txn, 'tls-card', 10), new grpc.Metadata(), { deadline: Date.now() + 5_000 }, (error, reply) =>
            error ? reject(error) : resolve(reply),
          ),
        );
        return undefined;
      } catch (error) {
        return error as grpc.ServiceError;
      } finally {
        client.close();
      }
    };
    const refused = await attempt(1);
    assert.equal(refused?.code, grpc.status.UNAUTHENTICATED, `a terminal of a CA the door does not trust: ${refused?.details}`);
    writeFileSync(files.clientCa, Buffer.concat([readFileSync(files.clientCa), readFileSync(other.caFile)]));
    let seen = '';
    let txn = 2;
    await waitFor(
      'the client CA bundle is reread and the other CA admitted',
      async () => {
        const error = await attempt(txn++);
        seen = error === undefined ? 'approved' : `${error.code}: ${error.details}`;
        return error === undefined;
      },
      () => seen,
      5_000,
      50,
    );
  });

  it('serves a rewritten node certificate to new connections', async function () {
    const before = await servedSerial(node.grpcPort);
    const rotated = await DevCredentials.open(testDataDir('door-tls-rotated'));
    // Another CA's certificate for the same node: what matters here is that the served one changes.
    const next = await rotated.node('tls-node');
    writeFileSync(files.key, readFileSync(next.key));
    writeFileSync(files.cert, readFileSync(next.cert));
    let seen = before;
    await waitFor(
      'the node serves the rewritten certificate',
      async () => {
        seen = await servedSerial(node.grpcPort);
        return seen === next.serial;
      },
      () => `serving ${seen}, expected ${next.serial} (was ${before})`,
      5_000,
      50,
    );
  });
});
