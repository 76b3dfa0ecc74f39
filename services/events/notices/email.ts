// E-mail notices through SMTP with nodemailer (one pooled transport per process). The message is
// text/plain UTF-8; its Message-ID is derived from the delivery id, so a retry after a lost answer
// carries the same id and a receiving system can drop the copy.

import { createTransport, type Transporter } from 'nodemailer';
import { detail_chars_max, outcomeOfError, type SendOutcome, type Sender } from '../senders';
import type { Delivery } from '../store';

export interface SmtpOptions {
  readonly host: string;
  readonly port: number;
  /** Implicit TLS (port 465); otherwise STARTTLS is used when the server offers it. */
  readonly secure: boolean;
  /** Refuse to send without STARTTLS (production: true). */
  readonly require_tls: boolean;
  readonly user?: string;
  readonly password?: string;
  /** The From address of every notice. */
  readonly from: string;
  /** Domain part of Message-IDs. */
  readonly message_id_domain: string;
  readonly timeout_ms: number;
}

interface SmtpError {
  readonly responseCode?: number;
  readonly response?: string;
}

export class EmailSender implements Sender {
  private readonly transport: Transporter;

  constructor(private readonly options: SmtpOptions) {
    this.transport = createTransport({
      host: options.host,
      port: options.port,
      secure: options.secure,
      requireTLS: options.require_tls,
      ignoreTLS: false,
      auth: options.user === undefined ? undefined : { user: options.user, pass: options.password ?? '' },
      connectionTimeout: options.timeout_ms,
      greetingTimeout: options.timeout_ms,
      socketTimeout: options.timeout_ms,
      pool: true,
      maxConnections: 2,
    });
  }

  async send(delivery: Delivery): Promise<SendOutcome> {
    const payload = JSON.parse(delivery.payload) as { subject: string; text: string };
    try {
      const info = (await this.transport.sendMail({
        from: this.options.from,
        to: delivery.target,
        subject: payload.subject,
        text: payload.text,
        messageId: `<${delivery.id}@${this.options.message_id_domain}>`,
        headers: { 'X-Tapline-Delivery': delivery.id },
      })) as { messageId?: string; response?: string };
      return { ok: true, provider_ref: info.messageId ?? '', detail: String(info.response ?? 'accepted').slice(0, detail_chars_max) };
    } catch (error) {
      const code = (error as SmtpError).responseCode;
      // 5xx is the server's final refusal of this message (bad mailbox, policy); 4xx and no
      // answer at all are worth another try.
      if (code !== undefined && code >= 500)
        return {
          ok: false,
          retry: false,
          detail: `SMTP ${code}: ${String((error as SmtpError).response ?? '')}`.slice(0, detail_chars_max),
        };
      return outcomeOfError(error);
    }
  }

  close(): void {
    this.transport.close();
  }
}
