import { type Notification, body, title } from './message.js';
import { postJson } from './http.js';

/** A Slack incoming webhook: one message with the title in bold. */
export function sendSlack(url: string, n: Notification, signal: AbortSignal): Promise<void> {
  return postJson(url, { text: `*${title(n)}*\n${body(n)}` }, signal);
}
