// Process entry of a production authorizer node (the Helm chart runs it). It injects no PSP
// integration, so it refuses TAPLINE_PSP_SECRET (docs/DECISIONS.md); the local cluster and the
// tests run tools/devenv/node-main.ts, the same process with the simulated PSP.

import { runAuthorizer } from './run';

runAuthorizer({});
