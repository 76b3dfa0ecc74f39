// Process entry of an authorizer node. Reads configuration from the environment, starts the
// node, and shuts it down gracefully on SIGTERM / SIGINT. Prints one JSON line
// {"event":"serving","grpcPort":...} on stdout when ready, whatever the log level.

import { loadConfig } from './config';
import { configOrExit, onStopSignal } from '../common/process';
import { AuthorizerNode } from './node';
import { createLogger } from '../common/logger';

async function main(): Promise<void> {
  const config = configOrExit(loadConfig);
  const logger = createLogger('tapline-authorizer', config.TAPLINE_LOG_LEVEL);
  const node = await AuthorizerNode.start(config, logger);
  // One machine-readable line whatever the log level: supervisors and tests wait for it.
  process.stdout.write(
    JSON.stringify({
      event: 'serving',
      grpcPort: node.grpcPort,
      metricsPort: node.metricsPort ?? null,
      internalPort: node.internalPort,
      pid: process.pid,
    }) + '\n',
  );
  onStopSignal((signal) => {
    logger.info({ signal }, 'shutting down');
    node.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`authorizer failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
