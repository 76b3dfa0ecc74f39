// Process entry of a production authorizer node (the Helm chart runs it). Its PSP integration is
// Mollie (services/authorizer/psp/mollie.ts), turned on by TAPLINE_PSP_PROVIDER=mollie with the API
// key from a Secret; it signs no callbacks, so TAPLINE_PSP_SECRET is refused (docs/DECISIONS.md).
// The local cluster and the tests run tools/devenv/node-main.ts, the same process with the
// simulated PSP.

import { mollie_integration } from './psp/mollie';
import { runAuthorizer } from './run';

runAuthorizer({ psp: mollie_integration });
