// A stand-in PSP for the demo and the tests: never part of a production node. The node gets it
// injected (AuthorizerNode.start's `psp` option) by the dev launcher's node entry point
// (tools/devenv/node-main.ts) and by the tests' in-process nodes, and turned on by
// TAPLINE_PSP_SECRET (it signs its callbacks with it); the production entry point
// (services/authorizer/main.ts) carries Mollie instead and refuses TAPLINE_PSP_SECRET
// (docs/DECISIONS.md).

import {
  pspPayload,
  signPspPayload,
  type PspAdapter,
  type PspCallbackSink,
  type PspIntegration,
} from '../../services/authorizer/usecases/psp';

/**
 * A PSP that approves everything (a mandate whose reference starts with "fail" is refused).
 * Payments started here are completed by whoever plays the PSP calling HandlePspCallback with a
 * signed payload; mandate charges call back at once through `deliver`.
 */
export class SimulatedPsp implements PspAdapter {
  private counter = 0;

  constructor(
    private readonly secret: string,
    private readonly deliver: PspCallbackSink,
    private readonly clock: () => number,
  ) {}

  startPayment(cardId: string, amountMinor: number, currency: string): Promise<{ reference: string; paymentUrl: string }> {
    this.counter += 1;
    const reference = `sim-${Date.now().toString(36)}-${this.counter}`;
    return Promise.resolve({
      reference,
      paymentUrl: `https://psp.invalid/pay/${reference}?card=${cardId}&amount=${amountMinor}&currency=${currency}`,
    });
  }

  chargeMandate(mandate: string, cardId: string, amountMinor: number, currency: string, reference: string): Promise<void> {
    const payload = pspPayload({
      reference,
      card: cardId,
      amountMinor,
      currency,
      status: mandate.startsWith('fail') ? 'failed' : 'succeeded',
      kind: 'auto_reload',
      signedAtMs: this.clock(),
    });
    setImmediate(() => this.deliver(payload, signPspPayload(this.secret, payload)));
    return Promise.resolve();
  }
}

/** The integration a node is started with to use the simulated PSP: on when TAPLINE_PSP_SECRET is set. */
export const simulatedPsp: PspIntegration = {
  name: 'simulated',
  signsCallbacks: true,
  create: ({ secret, callbacks, clock }) => (secret === undefined ? undefined : new SimulatedPsp(secret, callbacks, clock)),
};
