// Fleet card ids embed their account, like a fleet PAN embeds the customer number:
// "<fleetId>~<cardNo>". Placement and routing both call fleetOf(), so a fleet card always lives
// on its account's shard (shard key = fleet id) with no lookup: card and account state commit in
// one atomic entry. "~" is outside the charset of every other id ([A-Za-z0-9._-]), so no plain
// card, terminal or fleet id can ever be mistaken for a fleet card. See docs/DECISIONS.md.

export const fleet_card_separator = '~';

const part_pattern = /^[A-Za-z0-9._-]{1,64}$/;

export interface FleetCardId {
  readonly fleetId: string;
  readonly cardNo: string;
}

/** The fleet and card number of a fleet card id; undefined for any other id. */
export function parseFleetCardId(cardId: string): FleetCardId | undefined {
  const at = cardId.indexOf(fleet_card_separator);
  if (at < 0) return undefined;
  const fleetId = cardId.slice(0, at);
  const cardNo = cardId.slice(at + 1);
  if (!part_pattern.test(fleetId) || !part_pattern.test(cardNo)) return undefined;
  return { fleetId, cardNo };
}

export function isFleetCardId(cardId: string): boolean {
  return cardId.includes(fleet_card_separator);
}

export function fleetCardId(fleetId: string, cardNo: string): string {
  return `${fleetId}${fleet_card_separator}${cardNo}`;
}

/** The shard key of any entity id: its fleet for a fleet card, else the id itself. */
export function shardKeyOf(entityId: string): string {
  return parseFleetCardId(entityId)?.fleetId ?? entityId;
}
