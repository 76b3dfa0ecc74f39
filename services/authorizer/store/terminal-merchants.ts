// Which merchant a terminal belongs to, for the access checks that need it: a gateway certificate
// speaks for the terminals of its merchants, a merchant admin manages its merchants' terminals.
// Read from the terminal's stored state (its durable record, not an actor) and remembered: a
// terminal's merchant is fixed when it is registered (registering it again with another merchant
// is ALREADY_EXISTS), so a remembered answer never goes stale. Unknown terminals are not
// remembered (one may be registered a moment later). Bounded: past `entries_max` the oldest goes.

import { shardOf } from '../../../actors/sharding/shard-key';
import { decodeTerminalState } from '../../../actors/state/terminal';
import type { AccessLookups } from '../../common/auth/access';
import { terminalKey } from './keys';
import type { RedisStore } from './redis-store';

export class TerminalMerchants implements AccessLookups {
  private readonly known = new Map<string, string>();

  constructor(
    private readonly store: Pick<RedisStore, 'loadRecord'>,
    private readonly shard_count: number,
    private readonly entries_max: number,
  ) {}

  knownMerchantOfTerminal(terminalId: string): string | undefined {
    return this.known.get(terminalId);
  }

  async merchantOfTerminal(terminalId: string): Promise<string | undefined> {
    const cached = this.known.get(terminalId);
    if (cached !== undefined) return cached;
    const record = await this.store.loadRecord(terminalKey(shardOf('terminal', terminalId, this.shard_count), terminalId));
    if (record.data === undefined) return undefined;
    const merchant = decodeTerminalState(record.data).merchantId;
    if (this.known.size >= this.entries_max) {
      const oldest = this.known.keys().next();
      if (oldest.done !== true) this.known.delete(oldest.value);
    }
    this.known.set(terminalId, merchant);
    return merchant;
  }
}
