import { readFileSync } from 'node:fs';

/** The installed package's version (dist/version.js sits one folder below package.json). */
export const DBGUARD_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
