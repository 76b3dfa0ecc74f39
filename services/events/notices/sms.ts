// SMS notices through an HTTP provider, following Twilio's documented Programmable Messaging API
// (the "Create a Message resource" call):
//
//   POST <base>/2010-04-01/Accounts/<AccountSid>/Messages.json
//   Authorization: Basic base64(<AccountSid>:<AuthToken>)
//   Content-Type: application/x-www-form-urlencoded     To=<E.164>&From=<sender>&Body=<text>
//   -> 201 {"sid":"SM...","status":"queued",...}; 4xx {"code":N,"message":"..."}; 429 / 5xx: try later
//
// The base URL is configuration, so tests (and a provider-compatible gateway) can stand in for it.
// The provider has no idempotency key for messages: an answer lost after it accepted one means the
// retry sends a second SMS (the only duplicate this channel can make; see docs/NOTICES.md).

import { detail_chars_max, outcomeOfError, outcomeOfStatus, type SendOutcome, type Sender } from '../senders';
import type { Delivery } from '../store';

export interface SmsProviderOptions {
  readonly base_url: string;
  readonly account_sid: string;
  readonly auth_token: string;
  /** The sender: a phone number in E.164 or an alphanumeric sender id. */
  readonly from: string;
  readonly timeout_ms: number;
}

export class TwilioSmsSender implements Sender {
  constructor(private readonly options: SmsProviderOptions) {}

  async send(delivery: Delivery): Promise<SendOutcome> {
    const payload = JSON.parse(delivery.payload) as { text: string };
    const url = `${this.options.base_url.replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(this.options.account_sid)}/Messages.json`;
    const credentials = Buffer.from(`${this.options.account_sid}:${this.options.auth_token}`).toString('base64');
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Basic ${credentials}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ To: delivery.target, From: this.options.from, Body: payload.text }).toString(),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeout_ms),
      });
      const text = await response.text();
      let sid = '';
      if (response.status === 201 || response.status === 200) {
        try {
          const parsed = (JSON.parse(text) as { sid?: unknown }).sid;
          sid = typeof parsed === 'string' ? parsed : '';
        } catch {
          sid = '';
        }
      }
      return outcomeOfStatus(response.status, text.slice(0, detail_chars_max), sid);
    } catch (error) {
      return outcomeOfError(error);
    }
  }
}
