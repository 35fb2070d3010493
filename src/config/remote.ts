import { z } from '../vendor/zod.js';
import { retentionPoliciesSchema } from '../core/retention.js';
import { UsageError } from '../errors.js';
import type { RemoteLocation } from '../storage/s3-store.js';

export const remoteConfigSchema = z
  .object({
    /** `s3://bucket` or `s3://bucket/prefix`. */
    url: z.string().min(1).optional(),
    /** For S3-compatible services (R2, B2, MinIO, ...): their endpoint URL. */
    endpoint: z.string().min(1).optional(),
    region: z.string().min(1).optional(),
    /** Path-style addressing (`endpoint/bucket/key`), which MinIO and most self-hosted servers need. */
    forcePathStyle: z.boolean().optional(),
    /** Retention of the remote copies, per type; same rules as the local policy, applied separately. */
    retention: retentionPoliciesSchema.optional(),
    /** S3 Object Lock on every object dbguard writes. */
    objectLock: z.object({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']), days: z.number().int().positive() }).strict().optional(),
    /** false: backups stream straight to the bucket and are not kept in the local folder. */
    keepLocal: z.boolean().optional(),
  })
  .strict();

export type RemoteConfig = z.infer<typeof remoteConfigSchema>;

/** Where the remote copies go and how they are kept: what core needs (credentials come from the AWS SDK's chain). */
export interface RemoteSettings extends RemoteLocation {
  retention?: z.infer<typeof retentionPoliciesSchema> | undefined;
  keepLocal: boolean;
}

/** `s3://bucket/optional/prefix` -> bucket and prefix (no leading or trailing slash). */
export function parseRemoteUrl(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/?#]+)(\/[^?#]*)?$/.exec(url.trim());
  if (!match) {
    throw new UsageError(`Invalid remote "${url}": expected s3://<bucket> or s3://<bucket>/<prefix>.`, 'For R2, B2, MinIO and others, set the endpoint separately (remote.endpoint or DBGUARD_S3_ENDPOINT).');
  }
  const bucket = match[1]!;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new UsageError(`Invalid bucket name "${bucket}" in ${url}: 3-63 lowercase letters, digits, dots and hyphens.`);
  }
  const prefix = (match[2] ?? '').split('/').filter(Boolean).join('/');
  return { bucket, prefix };
}

/**
 * The remote from the config file and the environment (`DBGUARD_REMOTE`, `DBGUARD_S3_ENDPOINT`,
 * `DBGUARD_S3_REGION`, `DBGUARD_S3_FORCE_PATH_STYLE`); the environment wins. Undefined when no remote is set.
 */
export function resolveRemote(config: RemoteConfig | undefined, env: Record<string, string | undefined>): RemoteSettings | undefined {
  const url = env.DBGUARD_REMOTE || config?.url;
  if (!url) {
    if (config && Object.keys(config).length > 0) {
      throw new UsageError('remote is configured without a url.', 'Set remote.url to s3://<bucket>[/<prefix>] (or DBGUARD_REMOTE).');
    }
    return undefined;
  }
  const endpoint = env.DBGUARD_S3_ENDPOINT || config?.endpoint;
  if (endpoint !== undefined && !isPlainEndpoint(endpoint)) {
    // Never echo it: a URL with user:password@ would print the secret.
    throw new UsageError('Invalid S3 endpoint: expected http(s)://host[:port], without credentials in it.', 'Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE.');
  }
  const pathStyle = env.DBGUARD_S3_FORCE_PATH_STYLE;
  if (pathStyle !== undefined && pathStyle !== '' && !['true', 'false', '1', '0'].includes(pathStyle)) {
    throw new UsageError(`DBGUARD_S3_FORCE_PATH_STYLE must be true or false, not "${pathStyle}".`);
  }
  return {
    ...parseRemoteUrl(url),
    endpoint,
    region: env.DBGUARD_S3_REGION || config?.region,
    forcePathStyle: pathStyle ? pathStyle === 'true' || pathStyle === '1' : config?.forcePathStyle,
    objectLock: config?.objectLock,
    retention: config?.retention,
    keepLocal: config?.keepLocal ?? true,
  };
}

/** `s3://bucket/prefix` (plus the endpoint for other services), for messages: holds no credentials. */
export function describeRemote(remote: RemoteLocation): string {
  return `s3://${remote.bucket}${remote.prefix ? `/${remote.prefix}` : ''}${remote.endpoint ? ` at ${remote.endpoint}` : ''}`;
}

function isPlainEndpoint(endpoint: string): boolean {
  try {
    const url = new URL(endpoint);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password && !endpoint.includes('@');
  } catch {
    return false;
  }
}
