// An authorizer node as a process: reads configuration from the environment, starts the node
// with what its entry point injects, and shuts it down gracefully on SIGTERM / SIGINT. Prints one
// JSON line {"event":"serving","grpcPort":...,"operatorPort":...} on stdout when ready, whatever the log level. The
// production entry point is main.ts; the dev launcher's (tools/devenv/node-main.ts) adds the
// simulated PSP.

import { loadConfig } from './config';
import { configOrExit, exitOnUnexpectedError, onStopSignal } from '../common/process';
import { AuthorizerNode, checkNodeOptions, type NodeOptions } from './node';
import { createLogger } from '../common/logger';

async function main(options: NodeOptions): Promise<void> {
  const config = configOrExit(() => {
    const loaded = loadConfig();
    checkNodeOptions(loaded, options);
    return loaded;
  });
  const logger = createLogger('tapline-authorizer', config.TAPLINE_LOG_LEVEL);
  const started: { node?: AuthorizerNode } = {};
  exitOnUnexpectedError(logger, () => started.node?.shutdown() ?? Promise.resolve());
  const node = await AuthorizerNode.start(config, logger, options);
  started.node = node;
  // One machine-readable line whatever the log level: supervisors and tests wait for it.
  process.stdout.write(
    JSON.stringify({
      event: 'serving',
      grpcPort: node.grpcPort,
      operatorPort: node.operatorPort,
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

/** Runs the node process until it is told to stop. */
export function runAuthorizer(options: NodeOptions): void {
  main(options).catch((error: unknown) => {
    process.stderr.write(`authorizer failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
