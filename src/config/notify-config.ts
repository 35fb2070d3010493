import { z } from '../vendor/zod.js';

/** What a channel is told about (`success` only when asked for). */
/** `pitr-lag`: the newest restorable point is older than maxLag, or the slot holds back too much WAL on the server. */
export const NOTIFY_EVENTS = ['failure', 'recovery', 'stale', 'verify-failed', 'success', 'pitr-lag'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];
export const DEFAULT_NOTIFY_EVENTS: readonly NotifyEvent[] = ['failure', 'recovery', 'stale', 'verify-failed', 'pitr-lag'];

const filters = {
  /** Events this channel receives (default: failure, recovery, stale, verify-failed). */
  on: z.array(z.enum(NOTIFY_EVENTS)).min(1).optional(),
  /** Only these named databases (default: all). */
  databases: z.array(z.string().min(1)).min(1).optional(),
};

/** One notification channel. URLs and passwords are usually `${NAME}` references to the environment. */
export const notifyChannelSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('slack'), url: z.string().min(1), ...filters }).strict(),
  z.object({ type: z.literal('discord'), url: z.string().min(1), ...filters }).strict(),
  z
    .object({
      type: z.literal('webhook'),
      url: z.string().min(1),
      /** Signs the body: header X-Dbguard-Signature: sha256=<HMAC-SHA256 of the body, hex>. */
      secret: z.string().min(1).optional(),
      ...filters,
    })
    .strict(),
  z
    .object({
      type: z.literal('email'),
      /** smtp://user:password@host:587 or smtps://...:465 (nodemailer's connection URL). */
      url: z.string().min(1),
      from: z.string().min(1),
      to: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
      ...filters,
    })
    .strict(),
  /** healthchecks.io-style: `<url>/start` when a backup starts, `<url>` on success, `<url>/fail` on failure. */
  z.object({ type: z.literal('ping'), url: z.string().min(1), databases: filters.databases }).strict(),
]);

export type NotifyChannelConfig = z.infer<typeof notifyChannelSchema>;
export const notifySchema = z.array(notifyChannelSchema);
