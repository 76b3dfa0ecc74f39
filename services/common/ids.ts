// The shapes of the ids the services take from callers, held once. Every door (the gRPC API, the
// PSP webhooks, the reports and events HTTP APIs, caller certificates, the role policy) checks an
// id against the same pattern, so an id valid at one door is valid at all of them, and a change
// of the alphabet is made in one place.

/**
 * Entity ids (cards, terminals, merchants, programs, fleets, operators): 1 to 64 of
 * A-Z a-z 0-9 . _ -. The alphabet has no quote, backslash, slash or space, so a validated id is
 * safe in a path segment and in an SQL string literal.
 */
export const id_pattern = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * A settlement batch id: "<merchant>.<daily|weekly|monthly>.<YYYY-MM-DD>" (a batch is named by
 * what it settles). Group 1 is the merchant (the role policy scopes a batch by it), group 2 the
 * cycle, group 3 the first day of the period.
 */
export const settlement_batch_id_pattern = /^([A-Za-z0-9._-]{1,64})\.(daily|weekly|monthly)\.([0-9]{4}-[0-9]{2}-[0-9]{2})$/;
