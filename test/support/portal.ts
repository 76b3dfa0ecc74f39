// The portal in tests: a node, the reports service, the streamer into a real ClickHouse, and the
// portal itself, all with the test credentials plus the portal's own issuer (trusted by the node
// and the reports service like any identity provider), and a headless Chromium to drive it.

import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import puppeteer from 'puppeteer-core';
import { HttpAccess } from '../../services/common/auth/http-access';
import { parseIssuers, TokenVerifier } from '../../services/common/auth/tokens';
import { WatchedFile } from '../../services/common/auth/watched-file';
import type { ReportsServerSecurity } from '../../services/reports/server';
import { Backend } from '../../services/portal/backend';
import { PortalIssuer } from '../../services/portal/issuer';
import { PortalServer } from '../../services/portal/server';
import { SessionStore } from '../../services/portal/sessions';
import { StaffDirectory } from '../../services/portal/users';
import { createLogger } from '../../services/common/logger';
import { issuersWithPortal, writePortalFiles, type DemoUser, type PortalFiles } from '../../tools/devenv/portal';
import { testCredentials, testDataDir } from './harness';

/** Where Debian installs Chromium (scripts/ensure-system-deps.sh); the browser download of puppeteer is not used. */
export const chromium_path = '/usr/bin/chromium';

export async function portalFiles(users: readonly DemoUser[]): Promise<PortalFiles> {
  return writePortalFiles(testDataDir('portal-credentials'), users);
}

/** TAPLINE_OIDC_ISSUERS of the test issuer and the portal's. */
export async function portalIssuers(files: PortalFiles): Promise<string> {
  return issuersWithPortal((await testCredentials()).issuer.issuersSetting, files);
}

/** A reports service's security that trusts the test issuer and the portal's. */
export async function portalReportsSecurity(files: PortalFiles): Promise<ReportsServerSecurity> {
  const credentials = await testCredentials();
  const server = await credentials.server('reports');
  const verifier = new TokenVerifier({
    issuers: parseIssuers(await portalIssuers(files)),
    audience: 'tapline',
    roles_claim: 'tapline_roles',
    clock_tolerance_s: 30,
    reload_ms: 1_000,
  });
  return { access: new HttpAccess(verifier), tls: { cert: new WatchedFile(server.cert, 0), key: new WatchedFile(server.key, 0) } };
}

export interface TestPortal {
  readonly server: PortalServer;
  readonly backend: Backend;
  readonly url: string;
}

export async function startTestPortal(
  files: PortalFiles,
  backends: { operator: string; reportsPort: number },
  programs: readonly string[],
  /** A port chosen beforehand (a PSP redirect to the portal names it before the portal starts); 0 = any. */
  port = 0,
): Promise<TestPortal> {
  const credentials = await testCredentials();
  const tls = await credentials.server('portal');
  const backend = new Backend({
    authorizer_address: backends.operator,
    reports_url: `https://localhost:${backends.reportsPort}`,
    ca_file: credentials.caFile,
    server_name: 'localhost',
    call_timeout_ms: 10_000,
  });
  const issuer = await PortalIssuer.fromFile(files.signing_key_file, files.issuer, 'tapline', 300);
  const server = await PortalServer.start(
    {
      backend,
      issuer,
      staff: StaffDirectory.fromFile(files.users_file),
      programs,
      sessions: new SessionStore(1_800_000, 1_000),
      logger: createLogger('test-portal', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn'),
      clock: Date.now,
    },
    tls,
    port,
    '127.0.0.1',
  );
  return { server, backend, url: `https://localhost:${server.port}` };
}

/** A TCP port free on 127.0.0.1 now (for a server whose address must be known before it starts). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Headless Chromium; the portal's certificate is signed by the test CA, which the browser does not know. */
export function launchChromium(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromium_path,
    headless: true,
    acceptInsecureCerts: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/** Where the tests write screenshots (git-ignored); docs/screenshots holds a committed copy. */
export function screenshotDir(): string {
  return join(process.cwd(), '.test-artifacts', 'portal');
}
