// Process entry of an authorizer node for development and tests (`npm start`, the fault and
// cluster tests): the production process (services/authorizer/run.ts) with the simulated PSP
// injected, so TAPLINE_PSP_SECRET turns on PSP top-ups and auto-reload as in the demo.

import { runAuthorizer } from '../../services/authorizer/run';
import { simulatedPsp } from '../psp-simulator/simulated-psp';

runAuthorizer({ psp: simulatedPsp });
