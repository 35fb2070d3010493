import { interpolateEnv } from '../config/databases.js';
import { DEFAULT_NOTIFY_EVENTS, type NotifyChannelConfig } from '../config/notify-config.js';
import { sendDiscord } from './discord.js';
import { sendEmail } from './email.js';
import type { Notification } from './message.js';
import { type PingKind, sendPing } from './ping.js';
import { sendSlack } from './slack.js';
import { sendWebhook } from './webhook.js';

export type { Notification } from './message.js';
export type { PingKind } from './ping.js';

/** A channel with its `${NAME}` references read from the environment. */
export interface Channel {
  config: NotifyChannelConfig;
  /** `slack hooks.slack.com`: names the channel without its secret path or password. */
  label: string;
  /** Strings that must never appear in a log or an error (URLs, passwords, the signing secret). */
  secrets: string[];
}

export interface SendResult {
  channel: string;
  ok: boolean;
  attempts: number;
  /** The last error, secrets removed. */
  error?: string;
}

export interface NotifierOptions {
  /** Waits between attempts (default 1 s, 4 s, 15 s: four attempts). */
  retryDelaysMs?: number[];
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** Stops waiting and sending (serve shutting down). */
  signal?: AbortSignal;
}

/** Reads each channel's `${NAME}` references; a missing variable is a usage error naming it and the channel. */
export function resolveChannels(configs: NotifyChannelConfig[], env: Record<string, string | undefined>): Channel[] {
  return configs.map((raw, i) => {
    const config = interpolateEnv(raw, env, `notify[${i}]`);
    const secrets = [config.url, ...('secret' in config && config.secret ? [config.secret] : [])];
    let host = '?';
    try {
      const url = new URL(config.url);
      host = url.host;
      if (url.password) secrets.push(url.password, decodeURIComponent(url.password));
      if (url.pathname.length > 1) secrets.push(url.pathname);
    } catch {
      // not a URL: the send fails and says so, without the value
    }
    return { config, label: `${config.type} ${host}`, secrets: secrets.filter((s) => s.length >= 4) };
  });
}

/** Whether `channel` receives `n` (a test goes to every channel). */
export function wants(channel: Channel, n: Pick<Notification, 'event' | 'database'>): boolean {
  const { config } = channel;
  if (config.databases && !config.databases.includes(n.database)) return false;
  if (n.event === 'test') return true;
  if (config.type === 'ping') return false;
  return (config.on ?? DEFAULT_NOTIFY_EVENTS).includes(n.event);
}

/**
 * Sends to channels, retried with backoff; never throws (a notification must never fail a backup). Each channel
 * receives its notifications in the order they were given, one at a time: a retried failure alert is not overtaken
 * by the staleness alert that followed it.
 */
export class Notifier {
  private readonly queues = new Map<Channel, Promise<unknown>>();

  constructor(
    readonly channels: Channel[],
    private readonly options: NotifierOptions = {},
  ) {}

  /** Every channel that wants the event (ping channels get a success ping for a test). */
  notify(n: Notification): Promise<SendResult[]> {
    return Promise.all(
      this.channels.filter((c) => wants(c, n)).map((c) => this.inOrder(c, () => this.send(c, (signal) => deliver(c.config, n, signal)))),
    );
  }

  private inOrder(channel: Channel, task: () => Promise<SendResult>): Promise<SendResult> {
    const result = (this.queues.get(channel) ?? Promise.resolve()).then(task);
    this.queues.set(channel, result);
    void result.finally(() => {
      if (this.queues.get(channel) === result) this.queues.delete(channel);
    });
    return result;
  }

  /** The ping channels that watch `database`: start, success or failure of a backup. */
  ping(database: string, kind: PingKind, error?: string): Promise<SendResult[]> {
    return Promise.all(
      this.channels
        .filter((c) => c.config.type === 'ping' && (!c.config.databases || c.config.databases.includes(database)))
        .map((c) => this.send(c, (signal) => sendPing(c.config.url, kind, signal, error))),
    );
  }

  private async send(channel: Channel, attempt: (signal: AbortSignal) => Promise<void>): Promise<SendResult> {
    const delays = this.options.retryDelaysMs ?? [1000, 4000, 15000];
    let error = '';
    for (let i = 0; i <= delays.length; i++) {
      if (this.options.signal?.aborted) break;
      const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 10_000);
      try {
        await attempt(this.options.signal ? AbortSignal.any([timeout, this.options.signal]) : timeout);
        return { channel: channel.label, ok: true, attempts: i + 1 };
      } catch (caught) {
        error = redact(describe(caught), channel.secrets);
      }
      if (i < delays.length) await sleep(delays[i]!, this.options.signal);
    }
    return { channel: channel.label, ok: false, attempts: delays.length + 1, error };
  }
}

function deliver(config: NotifyChannelConfig, n: Notification, signal: AbortSignal): Promise<void> {
  switch (config.type) {
    case 'slack':
      return sendSlack(config.url, n, signal);
    case 'discord':
      return sendDiscord(config.url, n, signal);
    case 'webhook':
      return sendWebhook(config.url, config.secret, n, signal);
    case 'email':
      return sendEmail(config, n, signal);
    case 'ping':
      return sendPing(config.url, 'success', signal);
  }
}

/** fetch says only "fetch failed": the cause (ECONNREFUSED ...) is what helps. */
function describe(error: unknown): string {
  const e = error as Error & { cause?: Error & { code?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  const cause = e?.cause ? `: ${e.cause.code ?? e.cause.message}` : '';
  return `${e?.message ?? String(error)}${cause}`;
}

export function redact(text: string, secrets: string[]): string {
  return [...secrets].sort((a, b) => b.length - a.length).reduce((out, secret) => out.split(secret).join('***'), text);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
