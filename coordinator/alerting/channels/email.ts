/**
 * Email channel: one message per event over SMTP, sent with nodemailer (one connection per attempt).
 *
 * - Subject: `<subjectPrefix> <one-line summary>` (at most 250 characters).
 * - Body: plain text and an equivalent HTML part with the facts (check, scope, regions, errors per
 *   region, incident id) and, when known, a link to the dashboard.
 * - `Message-ID: <delivery id>@<from domain>` is the same on every retry of one delivery, so a mail
 *   system that deduplicates by Message-ID drops the rare repeat; every message of one incident (or one
 *   agent's offline/online pair) has `References` to one thread id, so mail clients group them.
 * - Headers `X-Lookout-Event` and `X-Lookout-Delivery` as on webhooks.
 *
 * Errors: an SMTP 4xx reply is retried, a 5xx reply (or failed authentication) is permanent;
 * connection, TLS and protocol failures are retried.
 */
import { createTransport } from 'nodemailer';
import { z } from 'zod';
import { viewEvent, type AnyAlertEvent } from '../../events/view.ts';
import { eventFacts, truncate } from './facts.ts';
import { summarize } from '../../events/catalog.ts';
import { ChannelCommonConfig, type ChannelModule, type SendFailureCode, type SendOutcome } from './types.ts';

const BARE_ADDRESS = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;
/** `ops@example.com` or `Lookout Alerts <ops@example.com>`. */
const Address = z.string().refine((value) => {
  const named = /^[^<>]*<([^<>]+)>$/.exec(value.trim());
  return BARE_ADDRESS.test(named ? named[1]! : value.trim());
}, 'must be an e-mail address, like ops@example.com or "Lookout <alerts@example.com>"');

export const SmtpConfigSchema = z.strictObject({
  /** SMTP server host name or address. */
  host: z.string().min(1),
  /**
   * SMTP port.
   * @defaultValue 465 when `secure`, else 587
   */
  port: z.number().int().min(1).max(65_535).optional(),
  /**
   * Implicit TLS from the first byte (port 465). When false, STARTTLS is still used if the server offers it.
   * @defaultValue false
   */
  secure: z.boolean().default(false),
  /**
   * Refuse to send unless the server upgrades to TLS with STARTTLS (on a non-`secure` connection).
   * @defaultValue false
   */
  requireTLS: z.boolean().default(false),
  /**
   * Verify the server's TLS certificate. Turn off only for a relay with a self-signed certificate on a trusted network.
   * @defaultValue true
   */
  rejectUnauthorized: z.boolean().default(true),
  /** User for SMTP authentication; with `password`. @defaultValue undefined (no authentication) */
  user: z.string().min(1).optional(),
  /** Password for SMTP authentication; a secret: give it as `{ "env": "SMTP_PASSWORD" }`. @defaultValue undefined */
  password: z.string().min(1).optional(),
}).refine((smtp) => (smtp.user === undefined) === (smtp.password === undefined), { message: 'user and password go together', path: ['password'] });

export const EmailConfigSchema = z.strictObject({
  type: z.literal('email'),
  ...ChannelCommonConfig,
  smtp: SmtpConfigSchema,
  /** Sender, e.g. `"Lookout <alerts@example.com>"`. */
  from: Address,
  /** Recipients (at least one). */
  to: z.array(Address).min(1, 'needs at least one recipient').max(100),
  /**
   * Put before every subject.
   * @defaultValue '[Lookout]'
   */
  subjectPrefix: z.string().max(50).default('[Lookout]'),
});
export type EmailConfig = z.infer<typeof EmailConfigSchema>;

/** What one attempt sends. */
export interface EmailMessage {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** With angle brackets: `<ops.inc-1%3A1@example.com>`. */
  messageId: string;
  /** Thread id shared by every message of one incident or agent, with angle brackets. */
  references?: string;
  headers: Record<string, string>;
}

const escapeHtml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The domain of the sender's address, for Message-IDs. */
function senderDomain(from: string): string {
  const named = /<([^<>]+)>\s*$/.exec(from);
  const address = named ? named[1]! : from.trim();
  return address.slice(address.lastIndexOf('@') + 1) || 'lookout.invalid';
}

/** Message-ID local parts may not contain `<`, `>`, `@`, spaces or `"`: everything else from our ids is kept. */
const idPart = (text: string): string => text.replace(/[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]/g, '_');

/** The message for one event. Pure. */
export function buildEmail(event: AnyAlertEvent, config: Pick<EmailConfig, 'from' | 'to' | 'subjectPrefix'>, context: { deliveryId: string; dashboardUrl?: string }): EmailMessage {
  const view = viewEvent(event);
  const summary = summarize(event);
  const { title, facts, errors, why } = eventFacts(view);
  const domain = senderDomain(config.from);
  const subject = truncate(`${config.subjectPrefix ? `${config.subjectPrefix} ` : ''}${summary}`.replace(/[\r\n]+/g, ' '), 250);

  const text = [
    summary,
    ...(why ? [`Why: ${why}`] : []),
    '',
    ...facts.map(([label, value]) => `${label}: ${value}`),
    ...(errors.length > 0 ? ['', 'Last error per failing region:', ...errors.map((e) => `  ${e.region}: ${e.code} ${e.message} (${new Date(e.at).toISOString()})`)] : []),
    '',
    ...(context.dashboardUrl ? [`Dashboard: ${context.dashboardUrl}`] : []),
    `Event: ${event.type} ${event.id} at ${new Date(event.at).toISOString()}`,
    '',
    '— Lookout',
  ].join('\n');

  const html = [
    '<!doctype html><html><body style="font-family: sans-serif">',
    `<h2>${escapeHtml(title)}</h2>`,
    `<p>${escapeHtml(summary)}</p>`,
    ...(why ? [`<p><b>Why:</b> ${escapeHtml(why)}</p>`] : []),
    '<table cellpadding="4" style="border-collapse: collapse">',
    ...facts.map(([label, value]) => `<tr><th align="left">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`),
    '</table>',
    ...(errors.length > 0 ? [
      '<h3>Last error per failing region</h3><ul>',
      ...errors.map((e) => `<li><b>${escapeHtml(e.region)}</b>: <code>${escapeHtml(e.code)}</code> ${escapeHtml(e.message)}</li>`),
      '</ul>',
    ] : []),
    ...(context.dashboardUrl ? [`<p><a href="${escapeHtml(context.dashboardUrl)}">Open the Lookout dashboard</a></p>`] : []),
    `<p style="color: #666; font-size: small">${escapeHtml(`${event.type} · ${event.id} · ${new Date(event.at).toISOString()}`)}</p>`,
    '</body></html>',
  ].join('\n');

  return {
    from: config.from,
    to: [...config.to],
    subject,
    text,
    html,
    messageId: `<${idPart(context.deliveryId)}@${domain}>`,
    ...(view.thread ? { references: `<${idPart(view.thread)}@${domain}>` } : {}),
    headers: { 'X-Lookout-Event': event.type, 'X-Lookout-Delivery': context.deliveryId },
  };
}

/**
 * What an SMTP failure means for the delivery, from nodemailer's error `code` and the server's
 * `responseCode` (never from message text). Pure.
 */
export function classifySmtpError(error: { code?: unknown; responseCode?: unknown }): { code: SendFailureCode; retryable: boolean } {
  const reply = typeof error.responseCode === 'number' ? error.responseCode : undefined;
  if (reply !== undefined && reply >= 500) return { code: 'RECEIVER_REJECTED', retryable: false };
  if (reply !== undefined && reply >= 400) return { code: 'RECEIVER_UNAVAILABLE', retryable: true };
  switch (error.code) {
    case 'EAUTH': case 'ENOAUTH': case 'EENVELOPE': case 'ECONFIG': case 'EREQUIRETLS':
      return { code: 'RECEIVER_REJECTED', retryable: false };
    case 'ETIMEDOUT':
      return { code: 'TIMEOUT', retryable: true };
    default:
      return { code: 'NETWORK_ERROR', retryable: true };
  }
}

/** `250 2.0.0 OK ...` → 250. */
const replyCode = (response: string | undefined): number => Number(/^(\d{3})/.exec(response ?? '')?.[1] ?? 250);

async function sendEmail(message: EmailMessage, config: EmailConfig, signal: AbortSignal): Promise<SendOutcome> {
  const { smtp } = config;
  const transport = createTransport({
    host: smtp.host,
    port: smtp.port ?? (smtp.secure ? 465 : 587),
    secure: smtp.secure,
    requireTLS: smtp.requireTLS,
    tls: { rejectUnauthorized: smtp.rejectUnauthorized },
    ...(smtp.user !== undefined && smtp.password !== undefined ? { auth: { user: smtp.user, pass: smtp.password } } : {}),
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout: config.timeoutMs,
    // The message is built from our own strings; never let it pull files or URLs in.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  // nodemailer aborts the SMTP session itself when this signal fires (closing the transport does not).
  const deadline = AbortSignal.timeout(config.timeoutMs);
  const both = AbortSignal.any([signal, deadline]);
  try {
    const info = await transport.sendMail({
      from: message.from, to: message.to, subject: message.subject, text: message.text, html: message.html,
      messageId: message.messageId, headers: message.headers, signal: both,
      ...(message.references ? { references: message.references } : {}),
    });
    return { ok: true, status: replyCode(info.response) };
  } catch (error) {
    if (signal.aborted) return { ok: false, code: 'ABORTED', retryable: true, message: 'delivery stopped while sending' };
    if (deadline.aborted) return { ok: false, code: 'TIMEOUT', retryable: true, message: `no complete SMTP exchange within ${config.timeoutMs}ms` };
    const failure = error as { code?: unknown; responseCode?: unknown; response?: unknown; message?: unknown };
    const verdict = classifySmtpError(failure);
    const detail = typeof failure.response === 'string' ? failure.response : String(failure.message ?? error);
    return {
      ok: false, ...verdict,
      message: `${typeof failure.code === 'string' ? `${failure.code}: ` : ''}${truncate(detail.replace(/\s+/g, ' ').trim(), 512)}`,
      ...(typeof failure.responseCode === 'number' ? { status: failure.responseCode } : {}),
    };
  } finally {
    transport.close();
  }
}

export const emailChannel: ChannelModule<EmailConfig, EmailMessage> = {
  type: 'email',
  ordering: 'every-event',
  configSchema: EmailConfigSchema,
  buildPayload: (event, config, context) => buildEmail(event, config, context),
  send: (message, config, context) => sendEmail(message, config, context.signal),
};
