import { createHmac } from 'node:crypto';
import { type Notification, body, title } from './message.js';
import { postJson } from './http.js';

export const SIGNATURE_HEADER = 'x-dbguard-signature';

/** The notification as JSON; with a secret, `X-Dbguard-Signature: sha256=<hex HMAC-SHA256 of the exact body>`. */
export function sendWebhook(url: string, secret: string | undefined, n: Notification, signal: AbortSignal): Promise<void> {
  const payload = JSON.stringify({ ...n, title: title(n), text: body(n) });
  const headers: Record<string, string> = secret ? { [SIGNATURE_HEADER]: `sha256=${createHmac('sha256', secret).update(payload).digest('hex')}` } : {};
  return postJson(url, payload, signal, headers);
}
