// How every public method finds the entity it acts on: ONE table, method path -> routing key.
// The routing key is the shard key (shardOf(key) is the shard): a card id for card operations, a
// terminal id for terminal administration. A method added later only needs an entry here to be
// forwarded to its owner (fleet cards: a function mapping the card id to its fleet account id).
// A method without an entry, or a request whose key is empty, runs on the node that received it
// (validation then answers, or the handler needs no owner).

import { AdminServiceService } from '../../../gen/tapline/v1/admin';
import { AuthorizationServiceService } from '../../../gen/tapline/v1/authorization';

type KeyOf<Req> = (request: Req) => string;

type RequestOf<M> = M extends { requestDeserialize: (bytes: Buffer) => infer Req } ? Req : never;

function entry<M extends { path: string; requestDeserialize: (bytes: Buffer) => unknown }>(method: M, keyOf: KeyOf<RequestOf<M>>): [string, KeyOf<unknown>] {
  return [method.path, keyOf as KeyOf<unknown>];
}

export const routing_keys: ReadonlyMap<string, KeyOf<unknown>> = new Map([
  entry(AuthorizationServiceService.authorize, (request) => request.cardId),
  entry(AuthorizationServiceService.topUp, (request) => request.cardId),
  entry(AuthorizationServiceService.reverse, (request) => request.cardId),
  entry(AuthorizationServiceService.getBalance, (request) => request.cardId),
  entry(AdminServiceService.issueCard, (request) => request.cardId),
  entry(AdminServiceService.setCardStatus, (request) => request.cardId),
  entry(AdminServiceService.registerTerminal, (request) => request.terminalId),
  entry(AdminServiceService.setTerminalEnabled, (request) => request.terminalId),
]);

/** The routing key of a request, or '' when the method has none (runs where it arrives). */
export function routingKeyOf(path: string, request: unknown): string {
  const keyOf = routing_keys.get(path);
  if (keyOf === undefined) return '';
  const key = keyOf(request);
  return typeof key === 'string' ? key : '';
}
