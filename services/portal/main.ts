// Process entry of the portal. Reads configuration from the environment, loads its signing key and
// staff directory, serves HTTPS, and on SIGTERM / SIGINT stops accepting and exits 0. Prints one
// JSON line {"event":"serving","grpcPort":0,"httpPort":N} on stdout when ready, like the other
// services, so the shared process helpers wait for it the same way.

import { createLogger } from '../common/logger';
import { configOrExit, exitOnUnexpectedError, onStopSignal } from '../common/process';
import { Backend } from './backend';
import { loadPortalConfig, type PortalConfig } from './config';
import { PortalIssuer } from './issuer';
import { PortalServer } from './server';
import { SessionStore } from './sessions';
import { StaffDirectory } from './users';

async function main(): Promise<void> {
  const config: PortalConfig = configOrExit(() => loadPortalConfig());
  const logger = createLogger('tapline-portal', config.TAPLINE_LOG_LEVEL);
  // The portal keeps only sessions: nothing to finish on a defect but the log line.
  exitOnUnexpectedError(logger, () => Promise.resolve());
  const backend = new Backend({
    authorizer_address: config.TAPLINE_AUTHORIZER_GRPC_ADDRESS,
    reports_url: config.TAPLINE_REPORTS_URL,
    ca_file: config.TAPLINE_PORTAL_CA_FILE,
    server_name: config.TAPLINE_PORTAL_TLS_SERVER_NAME,
    call_timeout_ms: config.TAPLINE_PORTAL_CALL_TIMEOUT_MS,
  });
  const issuer = await PortalIssuer.fromFile(
    config.TAPLINE_PORTAL_SIGNING_KEY_FILE,
    config.TAPLINE_PORTAL_ISSUER,
    config.TAPLINE_OIDC_AUDIENCE,
    config.TAPLINE_PORTAL_TOKEN_TTL_S,
  );
  const programs = config.TAPLINE_PORTAL_PROGRAMS.split(',')
    .map((program) => program.trim())
    .filter((program) => program !== '');
  const server = await PortalServer.start(
    {
      backend,
      issuer,
      staff: StaffDirectory.fromFile(config.TAPLINE_PORTAL_USERS_FILE),
      programs,
      sessions: new SessionStore(config.TAPLINE_PORTAL_SESSION_IDLE_MS, config.TAPLINE_PORTAL_SESSIONS_MAX),
      logger,
      clock: Date.now,
    },
    { cert: config.TAPLINE_TLS_CERT_FILE, key: config.TAPLINE_TLS_KEY_FILE },
    config.TAPLINE_PORTAL_PORT,
    config.TAPLINE_PORTAL_HOST,
  );
  onStopSignal((signal) => {
    logger.info({ signal }, 'shutting down');
    server.stop().then(
      () => {
        backend.close();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
  process.stdout.write(JSON.stringify({ event: 'serving', grpcPort: 0, httpPort: server.port, pid: process.pid }) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`portal failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
