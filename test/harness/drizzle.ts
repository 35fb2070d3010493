import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A drizzle-kit migrations folder (`<dir>/drizzle`: the journal and one SQL file per migration), as drizzle-kit writes it. */
export function writeDrizzleMigrations(dir: string, migrations: Array<[string, string]>): string {
  const folder = path.join(dir, 'drizzle');
  mkdirSync(path.join(folder, 'meta'), { recursive: true });
  const entries = migrations.map(([tag], idx) => ({ idx, version: '7', when: 1_700_000_000_000 + idx * 1000, tag, breakpoints: true }));
  writeFileSync(path.join(folder, 'meta', '_journal.json'), JSON.stringify({ version: '7', dialect: 'x', entries }));
  for (const [tag, sql] of migrations) writeFileSync(path.join(folder, `${tag}.sql`), sql);
  return folder;
}
