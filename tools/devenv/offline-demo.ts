// The offline part of the `npm start` demo (docs/OFFLINE.md): a bar terminal set up to sell
// offline syncs (grant, denylist, acknowledgement) over its own client certificate, loses the
// network, sells within its grant (refusing a card on its denylist), comes back and uploads its
// signed batch: a sale past the card's balance becomes debt, which the next top-up pays back.

import { CardStatus } from '../../gen/tapline/v1/types';
import { OfflineEntryResultKind, OfflineLiability } from '../../gen/tapline/v1/offline';
import type { ClientAccess } from '../client/access';
import { CardClient, programConfig } from '../client/card-client';
import { OfflineClient } from '../client/offline-client';
import { TaplineClient } from '../client/tapline-client';
import { OfflineTerminalSimulator, generateTerminalKey } from '../offline-terminal/simulator';

/** The demo's offline program: what one sale and one card may be offline, and the debt past which a card is listed. */
const offline_program = 'festival-offline';
const offline_policy = { txnMaxMinor: 2_000n, cardMaxMinor: 5_000n, debtThresholdMinor: 1_000n, cardCounter: false };

/**
 * Runs the offline demo on `terminalId` (its certificate is in the manifest), the top-up on the
 * cash desk's `till`; answers the transactions it made.
 */
export async function offlineDemo(
  access: ClientAccess,
  run: string,
  terminalId: string,
  till: { readonly terminalId: string; readonly txn: number },
  say: (line: string) => void,
  euros: (minor: bigint | number | undefined) => string,
): Promise<number> {
  const client = new TaplineClient(access);
  const cards = new CardClient(access);
  const offline = new OfflineClient(access);
  try {
    await cards.defineProgram(offline_program, programConfig({ offline: offline_policy }));
    await client.registerTerminal(terminalId, 'main-stage-bar');
    const key = generateTerminalKey();
    await offline.setTerminalOffline({
      terminalId,
      publicKey: key.spki,
      programIds: [offline_program],
      totalMaxMinor: 50_000,
      currency: 'EUR',
      countMax: 200,
      offlineMaxMs: 4 * 3_600_000,
    });
    const dave = { cardId: `dave-${run}`, programId: offline_program };
    const lost = { cardId: `lost-${run}`, programId: offline_program };
    await client.issueCard(dave.cardId, 1_500, 'EUR', offline_program);
    await client.issueCard(lost.cardId, 2_000, 'EUR', offline_program);
    await client.setCardStatus(lost.cardId, CardStatus.CARD_STATUS_BLOCKED);
    const terminal = new OfflineTerminalSimulator(terminalId, offline, key, { clock: () => 0 });
    await terminal.sync();
    say(
      `\noffline: ${terminalId} synced (grant ${terminal.grant?.grantNumber}, ${euros(terminal.grant?.totalMax?.amountMinor)} and ${terminal.grant?.countMax} sales until it syncs again; ${terminal.listed.size} card(s) on its denylist)`,
    );
    // The network is down: the terminal decides alone, within its grant.
    const sales = [terminal.sell(dave, 900, 'EUR'), terminal.sell(dave, 900, 'EUR'), terminal.sell(lost, 500, 'EUR')];
    say(
      `  offline sales: ${sales.map((sale, i) => `${['€9.00', '€9.00', '€5.00'][i]} ${'entry' in sale ? `entry ${sale.entry}` : `refused (${sale.refused})`}`).join(', ')}`,
    );
    terminal.closeBatches();
    // Back online: the signed batch is uploaded and merged exactly once.
    const [answer] = await terminal.upload();
    for (const result of answer?.results ?? [])
      say(
        `  uploaded entry ${result.entryNumber}: ${OfflineEntryResultKind[result.kind]}, ${OfflineLiability[result.liability]}, balance ${euros(result.balanceAfter?.amountMinor)}, debt ${euros(result.debtAfter?.amountMinor)}`,
      );
    const topUp = await client.topUp(dave.cardId, 1_000, till);
    say(`  top-up of €10.00 on ${dave.cardId} pays its debt back first: balance now ${euros(topUp.balanceAfter?.amountMinor)}`);
    // The two offline sales and the top-up are transactions.
    return (answer?.results.length ?? 0) + 1;
  } finally {
    client.close();
    cards.close();
    offline.close();
  }
}
