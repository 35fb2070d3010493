import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A small Node project on disk whose package.json scripts hide destructive commands. */
export async function makeProject(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dbguard-guard-'));
  const files: Record<string, string> = {
    'package.json': JSON.stringify({
      name: 'fixture',
      scripts: {
        'db:reset': 'prisma migrate reset --force',
        'db:fresh': 'npm run db:reset && npm run db:seed',
        'db:seed': 'tsx prisma/seed.ts',
        'db:push': 'prisma db push',
        'postdb:push': 'psql -f sql/wipe.sql',
        'db:wipe': 'bash scripts/wipe.sh',
        migrate: 'cross-env NODE_ENV=development dotenv -e .env -- prisma migrate deploy',
        'migrate:new': 'prisma migrate dev --create-only',
        build: 'tsc -p .',
        pretest: 'drizzle-kit push --force',
        test: 'vitest run',
        ping: 'npm run pong',
        pong: 'npm run ping',
        'reset:all': 'run-s db:reset db:seed',
        generate: 'prisma generate',
      },
    }),
    'sql/wipe.sql': '-- wipe everything\nDROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n',
    'sql/report.sql': 'SELECT count(*) FROM users;\n',
    'sql/add-column.sql': 'ALTER TABLE users ADD COLUMN age integer;\n',
    'sql/mysql-delete.sql': 'DELETE FROM `orders`;\n',
    'scripts/wipe.sh': '#!/bin/sh\nset -e\nnpx prisma migrate reset --force --skip-seed\n',
    'packages/api/package.json': JSON.stringify({ name: 'api', scripts: { reset: 'supabase db reset', 'db:up': 'knex migrate:latest' } }),
  };
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
