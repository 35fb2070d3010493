import { type Notification, body, title } from './message.js';
import { postJson } from './http.js';

/** A Discord webhook (content is limited to 2000 characters). */
export function sendDiscord(url: string, n: Notification, signal: AbortSignal): Promise<void> {
  return postJson(url, { content: `**${title(n)}**\n${body(n)}`.slice(0, 2000) }, signal);
}
