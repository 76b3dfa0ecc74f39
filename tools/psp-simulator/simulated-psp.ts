// A stand-in PSP for the demo and the tests: never part of a production node. The node gets it
// injected (AuthorizerNode.start's `psp` option) by the dev launcher's node entry point
// (tools/devenv/node-main.ts) and by the tests' in-process nodes, and turned on by
// TAPLINE_PSP_SECRET (it signs its callbacks with it); the production entry point
// (services/authorizer/main.ts) carries Mollie instead and refuses TAPLINE_PSP_SECRET
// (docs/DECISIONS.md).

import { randomBytes } from 'node:crypto';
import {
  pspPayload,
  signPspPayload,
  type AutoReloadSetup,
  type PspAdapter,
  type PspCallbackSink,
  type PspIntegration,
} from '../../services/authorizer/usecases/psp';

interface Started {
  readonly cardId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly setup: AutoReloadSetup | undefined;
}

/**
 * A PSP that approves everything (a mandate whose reference starts with "fail" is refused).
 * Payments started here are completed by whoever plays the PSP: `complete` (the holder paid or
 * gave up), or a HandlePspCallback with a signed payload; mandate charges call back at once through
 * `deliver`. Like Mollie, a paid first payment (started with an auto-reload setup) creates a
 * customer and a mandate ("sim_cst_....sim_mdt_..."), and its callback reports them with the setup
 * the payment was started with.
 */
export class SimulatedPsp implements PspAdapter {
  private counter = 0;
  private readonly started = new Map<string, Started>();

  constructor(
    private readonly secret: string,
    private readonly deliver: PspCallbackSink,
    private readonly clock: () => number,
  ) {}

  startPayment(
    cardId: string,
    amountMinor: number,
    currency: string,
    setup?: AutoReloadSetup,
  ): Promise<{ reference: string; paymentUrl: string }> {
    this.counter += 1;
    const reference = `sim-${Date.now().toString(36)}-${this.counter}`;
    this.started.set(reference, { cardId, amountMinor, currency, setup });
    return Promise.resolve({
      reference,
      paymentUrl: `https://psp.invalid/pay/${reference}?card=${cardId}&amount=${amountMinor}&currency=${currency}`,
    });
  }

  /**
   * The holder paid (`succeeded`) or gave up (`failed`) a payment started here: its signed callback,
   * delivered through `deliver` and also answered (payload, signature) for a test to replay.
   */
  complete(reference: string, status: 'succeeded' | 'failed'): [payload: string, signature: string] {
    const started = this.started.get(reference);
    if (started === undefined) throw new Error(`no payment ${reference} was started here`);
    this.started.delete(reference);
    const mandate = `sim_cst_${randomBytes(6).toString('hex')}.sim_mdt_${randomBytes(6).toString('hex')}`;
    const payload = pspPayload({
      reference,
      card: started.cardId,
      amountMinor: started.amountMinor,
      currency: started.currency,
      status,
      kind: 'top_up',
      signedAtMs: this.clock(),
      ...(status === 'succeeded' && started.setup !== undefined ? { autoReload: { ...started.setup, mandate } } : {}),
    });
    const signature = signPspPayload(this.secret, payload);
    this.deliver(payload, signature);
    return [payload, signature];
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
