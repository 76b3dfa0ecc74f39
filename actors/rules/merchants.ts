// Merchant and terminal restrictions: a program (or fleet) may allow only listed merchants or
// terminals, or block some. A block list wins over an allow list. Absent lists restrict nothing.

import { approve_clean, decline, type RuleVerdict } from './rule';

export interface MerchantPolicy {
  readonly allowed_merchants?: readonly string[];
  readonly blocked_merchants?: readonly string[];
  readonly allowed_terminals?: readonly string[];
  readonly blocked_terminals?: readonly string[];
}

export function checkMerchant(policy: MerchantPolicy, merchantId: string, terminalId: string): RuleVerdict {
  if (policy.blocked_merchants?.includes(merchantId)) return decline('merchant_restricted', 'merchant:blocked');
  if (policy.allowed_merchants !== undefined && !policy.allowed_merchants.includes(merchantId))
    return decline('merchant_restricted', 'merchant:not_allowed');
  if (policy.blocked_terminals?.includes(terminalId)) return decline('terminal_restricted', 'terminal:blocked');
  if (policy.allowed_terminals !== undefined && !policy.allowed_terminals.includes(terminalId))
    return decline('terminal_restricted', 'terminal:not_allowed');
  return approve_clean;
}
