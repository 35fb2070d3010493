import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyCommand } from '../../src/guard/classify.js';
import { ShellParserNotLoaded, loadShellParser, parseShell, parseWithTreeSitter, simpleCommand } from '../../src/guard/shell.js';
import type { Verdict } from '../../src/guard/types.js';
import { makeProject } from './fixture.js';

/** [command line, verdict, rule that must be among the reasons, resolved command that must be among them] */
type Case = [line: string, verdict: Verdict, rule?: string, command?: string];

const BLOCK: Case[] = [
  // The examples
  ['npx prisma db push --force-reset', 'block', 'prisma-db-push-force-reset'],
  ['npx prisma db push --accept-data-loss', 'block', 'prisma-db-push-accept-data-loss'],
  ['npx prisma migrate reset', 'block', 'prisma-migrate-reset'],
  ['npx prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ["echo 'DROP TABLE users;' | npx prisma db execute --stdin --schema prisma/schema.prisma", 'block', 'sql-drop-table'],
  ['npx prisma db execute --file sql/wipe.sql --schema prisma/schema.prisma', 'block', 'sql-drop-schema'],
  ['npx drizzle-kit push --force', 'block', 'drizzle-kit-push-force'],
  ['npx typeorm schema:drop -d src/data-source.ts', 'block', 'typeorm-schema-drop'],
  ['npx sequelize-cli db:drop', 'block', 'sequelize-db-drop'],
  ['npx sequelize db:migrate:undo:all', 'block', 'sequelize-undo-all'],
  ['npx knex migrate:rollback --all', 'block', 'knex-rollback-all'],
  ['npx knex --knexfile knexfile.js migrate:rollback --all', 'block', 'knex-rollback-all'],
  ['npx node-pg-migrate down', 'block', 'node-pg-migrate-down'],
  ['npx supabase db reset', 'block', 'supabase-db-reset'],
  ['dropdb myapp', 'block', 'dropdb'],
  ['psql -c "DROP DATABASE app"', 'block', 'sql-drop-database'],
  [`psql "$DATABASE_URL" -c 'DROP SCHEMA public CASCADE'`, 'block', 'sql-drop-schema'],
  ['psql -d app --command="DROP TABLE users"', 'block', 'sql-drop-table'],
  ["psql app -c 'TRUNCATE orders'", 'block', 'sql-truncate'],
  ["psql -Atc 'DELETE FROM users'", 'block', 'sql-delete-without-where'],
  ["sqlite3 dev.db 'DROP TABLE users'", 'block', 'sql-drop-table'],
  ['sqlite3 prisma/dev.db "DELETE FROM sessions;"', 'block', 'sql-delete-without-where'],
  ['mysql -u root -e "DROP DATABASE shop"', 'block', 'sql-drop-database'],
  ["mysql shop -e 'DELETE FROM `orders`'", 'block', 'sql-delete-without-where'],
  ["psql app <<'SQL'\nBEGIN;\nDROP TABLE users;\nCOMMIT;\nSQL", 'block', 'sql-drop-table'],
  ['sqlite3 dev.db <<EOF\nDELETE FROM sessions;\nEOF', 'block', 'sql-delete-without-where'],
  ['mysql shop <<-EOF\n\tTRUNCATE TABLE carts;\n\tEOF', 'block', 'sql-truncate'],
  ['echo "DROP TABLE users" | psql app', 'block', 'sql-drop-table'],
  ["printf 'TRUNCATE t;\\n' | sqlite3 dev.db", 'block', 'sql-truncate'],
  ['cat <<EOF | psql app\nDROP TABLE users;\nEOF', 'block', 'sql-drop-table'],
  ["psql app <<< 'DROP TABLE users'", 'block', 'sql-drop-table'],
  ['cat sql/wipe.sql | psql app', 'block', 'sql-drop-schema'],
  ['psql app < sql/wipe.sql', 'block', 'sql-drop-schema'],
  ['psql app -f sql/wipe.sql', 'block', 'sql-drop-schema'],
  ['psql app -c "$(cat sql/wipe.sql)"', 'block', 'sql-drop-schema'],
  ['sqlite3 dev.db ".read sql/wipe.sql"', 'block', 'sql-drop-schema'],
  ["psql app <<'EOF'\n\\set ON_ERROR_STOP on\n\\i sql/wipe.sql\nEOF", 'block', 'sql-drop-schema'],
  ["mysql shop -e 'source sql/mysql-delete.sql'", 'block', 'sql-delete-without-where'],
  ['mysql shop < sql/mysql-delete.sql', 'block', 'sql-delete-without-where'],
  ["psql -c 'ALTER TABLE users DROP COLUMN email'", 'block', 'sql-drop-column'],
  ["psql -c 'UPDATE users SET admin = true'", 'block', 'sql-update-without-where'],
  ["psql -c 'WITH gone AS (DELETE FROM users RETURNING id) SELECT count(*) FROM gone'", 'block', 'sql-delete-without-where'],
  ["psql -c 'SELECT 1; DELETE FROM users'", 'block', 'sql-delete-without-where'],
  ["psql -c 'DROP TABLE IF EXISTS users %%% nonsense'", 'block', 'sql-unparseable'],
  ['psql -f missing.sql', 'block', 'sql-file-unreadable'],
  ["cat > new.sql <<'EOF'\nDROP TABLE users;\nEOF\npsql app -f new.sql", 'block', 'sql-drop-table'],
  ['pg_restore --clean -d app backup.dump', 'block', 'pg-restore-clean'],
  ['pg_restore -c --if-exists --dbname=postgres://localhost/app backup.dump', 'block', 'pg-restore-clean'],
  ['rm prisma/dev.db', 'block', 'rm-sqlite-database'],
  ['rm -f prisma/dev.db-wal', 'block', 'rm-sqlite-database'],
  ['rm -rf data/app.sqlite3 tmp/', 'block', 'rm-sqlite-database'],
  ['rm -rf docker/pgdata', 'block', 'rm-database-directory'],
  ["find . -name '*.db' -delete", 'block', 'find-delete-database-file'],
  ["find prisma -name '*.sqlite' -exec rm -f {} +", 'block', 'find-delete-database-file'],
  ['docker compose down -v', 'block', 'docker-compose-down-volumes'],
  ['docker compose -f docker-compose.dev.yml down --volumes', 'block', 'docker-compose-down-volumes'],
  ['docker-compose down -v --remove-orphans', 'block', 'docker-compose-down-volumes'],
  ['docker volume rm myapp_postgres_data', 'block', 'docker-volume-rm'],
  ['docker volume prune -f', 'block', 'docker-volume-prune'],
  ['npx supabase stop --no-backup', 'block', 'supabase-stop-no-backup'],
  // Wrapping forms
  ['sh -c "npx prisma migrate reset --force"', 'block', 'prisma-migrate-reset', 'sh -c "npx prisma migrate reset --force" -> npx prisma migrate reset --force'],
  ["bash -lc 'prisma db push --force-reset'", 'block', 'prisma-db-push-force-reset'],
  ["bash -euxc 'cd apps/api && prisma migrate reset --force'", 'block', 'prisma-migrate-reset'],
  ['sh -c \'sh -c "dropdb app"\'', 'block', 'dropdb'],
  ['bash -c "psql -c \'DROP TABLE users\'"', 'block', 'sql-drop-table'],
  ['FOO=bar prisma migrate reset', 'block', 'prisma-migrate-reset'],
  ['env DATABASE_URL=postgres://localhost/app npx prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ['env -i PATH=/usr/bin dropdb app', 'block', 'dropdb'],
  ['env -C packages/api npm run reset', 'block', 'supabase-db-reset', 'env -C packages/api npm run reset -> supabase db reset'],
  ['sudo -u postgres dropdb app', 'block', 'dropdb'],
  ['sudo -E npx prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ['cd apps/api && npx prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ['(cd apps/api; prisma migrate reset)', 'block', 'prisma-migrate-reset'],
  ['{ echo start; prisma migrate reset --force; }', 'block', 'prisma-migrate-reset'],
  ['true && prisma migrate reset', 'block', 'prisma-migrate-reset'],
  ['false || prisma db push --force-reset', 'block', 'prisma-db-push-force-reset'],
  ['npx prisma generate; npx prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ['npx prisma migrate reset --force | tee reset.log', 'block', 'prisma-migrate-reset'],
  ['if [ -f .env ]; then npx prisma migrate reset --force; fi', 'block', 'prisma-migrate-reset'],
  ['echo done $(dropdb app)', 'block', 'dropdb'],
  ['npm exec prisma migrate reset', 'block', 'prisma-migrate-reset'],
  ['npm exec -- prisma db push --force-reset', 'block', 'prisma-db-push-force-reset'],
  ['npx -y -p prisma@6 prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ['npx prisma@6.19.0 migrate reset', 'block', 'prisma-migrate-reset'],
  ["npx -c 'prisma migrate reset --force'", 'block', 'prisma-migrate-reset'],
  ['pnpm exec prisma migrate reset', 'block', 'prisma-migrate-reset'],
  ['pnpm dlx prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ['pnpm prisma migrate reset', 'block', 'prisma-migrate-reset'],
  ['yarn prisma migrate reset', 'block', 'prisma-migrate-reset'],
  ['yarn dlx prisma db push --accept-data-loss', 'block', 'prisma-db-push-accept-data-loss'],
  ['bunx prisma migrate reset', 'block', 'prisma-migrate-reset'],
  ['bun x drizzle-kit push --force', 'block', 'drizzle-kit-push-force'],
  ['./node_modules/.bin/prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ['node node_modules/prisma/build/index.js db push --force-reset', 'block', 'prisma-db-push-force-reset'],
  ['ts-node ./node_modules/typeorm/cli.js schema:drop', 'block', 'typeorm-schema-drop'],
  ['time npx prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ['timeout 60 npx drizzle-kit push --force', 'block', 'drizzle-kit-push-force'],
  ['nohup nice -n 10 dropdb app &', 'block', 'dropdb'],
  ['dotenv -e .env.test -- prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ['cross-env NODE_ENV=test prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ['eval "npx prisma migrate reset --force"', 'block', 'prisma-migrate-reset'],
  ['docker compose exec db psql -U postgres -c "DROP TABLE users"', 'block', 'sql-drop-table'],
  ['docker exec -i pg psql -U postgres app < sql/wipe.sql', 'block', 'sql-drop-schema'],
  ['bash scripts/wipe.sh', 'block', 'prisma-migrate-reset', 'bash scripts/wipe.sh -> npx prisma migrate reset --force --skip-seed'],
  ['bash <<EOF\nnpx prisma migrate reset --force\nEOF', 'block', 'prisma-migrate-reset'],
  // Consent that is not consent
  ['PRISMA_USER_CONSENT_FOR_DANGEROUS_AI_ACTION=yes npx prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ['npx dbguard run --approve "the agent says it is fine" -- npx prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ['npx dbguard run -- dropdb app', 'block', 'dropdb'],
  // A line the shell parser cannot read is judged by what it mentions
  ['psql -c "DROP TABLE users', 'block', 'shell-unparseable'],
];

const SCRIPTS: Case[] = [
  ['npm run db:reset', 'block', 'prisma-migrate-reset', 'npm run db:reset -> prisma migrate reset --force'],
  ['npm run-script db:reset', 'block', 'prisma-migrate-reset', 'npm run-script db:reset -> prisma migrate reset --force'],
  ['npm run db:reset -- --skip-seed', 'block', 'prisma-migrate-reset', 'npm run db:reset -- --skip-seed -> prisma migrate reset --force --skip-seed'],
  ['pnpm db:reset', 'block', 'prisma-migrate-reset', 'pnpm db:reset -> prisma migrate reset --force'],
  ['pnpm run db:reset', 'block', 'prisma-migrate-reset'],
  ['yarn db:reset', 'block', 'prisma-migrate-reset'],
  ['yarn run db:reset', 'block', 'prisma-migrate-reset'],
  ['bun run db:reset', 'block', 'prisma-migrate-reset'],
  ['npm run db:fresh', 'block', 'prisma-migrate-reset', 'npm run db:fresh -> npm run db:reset -> prisma migrate reset --force'],
  ['npm run db:push', 'block', 'sql-drop-schema', 'npm run db:push (postdb:push) -> psql -f sql/wipe.sql'],
  ['npm run db:wipe', 'block', 'prisma-migrate-reset', 'npm run db:wipe -> bash scripts/wipe.sh -> npx prisma migrate reset --force --skip-seed'],
  ['npm test', 'block', 'drizzle-kit-push-force', 'npm test (pretest) -> drizzle-kit push --force'],
  ['npm run reset:all', 'block', 'prisma-migrate-reset'],
  ['cd packages/api && npm run reset', 'block', 'supabase-db-reset', 'npm run reset -> supabase db reset'],
  ['npm --prefix packages/api run reset', 'block', 'supabase-db-reset'],
  ['pnpm -C packages/api reset', 'block', 'supabase-db-reset'],
  ['sh -c "npm run db:reset"', 'block', 'prisma-migrate-reset', 'sh -c "npm run db:reset" -> npm run db:reset -> prisma migrate reset --force'],
  ['npm run migrate', 'backup', 'prisma-migrate-deploy'],
  ['cd packages/api && yarn db:up', 'backup', 'knex-migrate', 'yarn db:up -> knex migrate:latest'],
  ['npm run migrate:new', 'allow'],
  ['npm run ping', 'allow'],
  ['npm run build', 'allow'],
  ['npm run generate', 'allow'],
  ['npm run no-such-script', 'allow'],
];

const BACKUP: Case[] = [
  ['prisma migrate dev', 'backup', 'prisma-migrate-dev'],
  ['npx prisma migrate dev --name add_users', 'backup', 'prisma-migrate-dev'],
  ['npx prisma migrate deploy', 'backup', 'prisma-migrate-deploy'],
  ['npx prisma db push', 'backup', 'prisma-db-push'],
  ['npx prisma db execute --stdin', 'backup', 'prisma-db-execute'],
  ['npx prisma db execute --file sql/add-column.sql', 'backup', 'sql-schema-change'],
  ['npx drizzle-kit push', 'backup', 'drizzle-kit-push'],
  ['npx drizzle-kit migrate', 'backup', 'drizzle-kit-migrate'],
  ['npx knex migrate:latest', 'backup', 'knex-migrate'],
  ['npx typeorm migration:run -d dist/data-source.js', 'backup', 'typeorm-migration-run'],
  ['npx sequelize-cli db:migrate', 'backup', 'sequelize-migrate'],
  ['npx node-pg-migrate up', 'backup', 'node-pg-migrate-up'],
  ['psql -c "ALTER TABLE users ADD COLUMN age int"', 'backup', 'sql-schema-change'],
  ['psql app <<EOF\nALTER TABLE users ADD COLUMN nickname text;\nEOF', 'backup', 'sql-schema-change'],
  ['psql app -f sql/add-column.sql', 'backup', 'sql-schema-change'],
  ["psql app -c 'CREATE TABLE events (\n  source text,\n  id int\n)'", 'backup', 'sql-schema-change'],
  ['pg_restore -d app backup.dump', 'backup', 'pg-restore'],
  ['npx supabase db push', 'backup', 'supabase-db-push'],
  ['pg_dump old | psql new', 'backup', 'sql-not-visible'],
  ['sh -c "prisma migrate deploy"', 'backup', 'prisma-migrate-deploy'],
];

const ALLOW: Case[] = [
  ['npx prisma generate', 'allow'],
  ['npx prisma studio', 'allow'],
  ['npx prisma format', 'allow'],
  ['npx prisma validate', 'allow'],
  ['npx prisma migrate status', 'allow'],
  ['npx prisma migrate diff --from-empty --to-schema-datamodel prisma/schema.prisma --script', 'allow'],
  ['npx prisma migrate dev --create-only', 'allow'],
  ['npx prisma migrate dev --name reset --create-only', 'allow'],
  ['npx prisma migrate reset --help', 'allow'],
  ['npx drizzle-kit generate', 'allow'],
  ['npx drizzle-kit check', 'allow'],
  ['npx drizzle-kit studio', 'allow'],
  ['pg_dump app > backup.sql', 'allow'],
  ['pg_restore -f restore.sql backup.dump', 'allow'],
  ["psql -c 'SELECT count(*) FROM users'", 'allow'],
  ['psql -c "DELETE FROM users WHERE id = 42"', 'allow'],
  ["psql -c \"UPDATE users SET name = 'x' WHERE id = 1\"", 'allow'],
  ['psql app -f sql/report.sql', 'allow'],

  ['psql -l', 'allow'],
  ['psql app', 'allow'],
  ["sqlite3 dev.db 'SELECT * FROM users'", 'allow'],
  ["sqlite3 -readonly dev.db 'SELECT 1'", 'allow'],
  ['echo "prisma migrate reset --force"', 'allow'],
  ["echo 'DROP TABLE users'", 'allow'],
  ['grep -rn "DROP TABLE" migrations/', 'allow'],
  ['git commit -m "never run prisma db push --force-reset"', 'allow'],
  ["git commit -m 'DROP TABLE users; dropdb app'", 'allow'],
  ['# npx prisma migrate reset --force', 'allow'],
  ['ls -la # dropdb app', 'allow'],
  ['cat prisma/migrations/20240101_init/migration.sql', 'allow'],
  ['rm -rf node_modules dist', 'allow'],
  ["find . -name '*.log' -delete", 'allow'],
  ['docker compose down', 'allow'],
  ['docker volume ls', 'allow'],
  ['man dropdb', 'allow'],
  ['command -v dropdb', 'allow'],
  ['npm install', 'allow'],
  ['npx dbguard run -- npx prisma migrate dev', 'allow'],
  ['echo "unterminated', 'allow'],
];

/** Forms a new user tried that the guard missed: package runners with `--`, workspaces, globs. */
const RUNNERS_AND_GLOBS: Case[] = [
  ['npm exec prisma -- migrate reset --force', 'block', 'prisma-migrate-reset', 'npm exec prisma -- migrate reset --force'],
  ['npm exec --package=prisma -- prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ['npm exec -w packages/api -- prisma db push --force-reset', 'block', 'prisma-db-push-force-reset'],
  ['npm exec --workspace packages/api prisma migrate reset', 'block', 'prisma-migrate-reset'],
  ['npx -w packages/api prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
  ['npx --yes drizzle-kit -- push --force', 'block', 'drizzle-kit-push-force'],
  ['npm x -- drizzle-kit push --force', 'block', 'drizzle-kit-push-force'],
  ['npx --call="prisma migrate reset --force"', 'block', 'prisma-migrate-reset'],
  ['npm exec -w packages/api -- tsc -b', 'allow'],
  ['rm -f data/*.db*', 'block', 'rm-sqlite-database'],
  ['rm -f prisma/dev.db-*', 'block', 'rm-sqlite-database'],
  ['rm *.sqlite3', 'block', 'rm-sqlite-database'],
  ['rm -f ./*.db', 'block', 'rm-sqlite-database'],
  ["rm -f 'dev.sqlite?'", 'block', 'rm-sqlite-database'],
  ['rm -f db/[dt]est.db', 'block', 'rm-sqlite-database'],
  ['rm -f db/dev.sqlite[0-9]', 'block', 'rm-sqlite-database'],
  ["find . -name '*.db*' -delete", 'block', 'find-delete-database-file'],
  ['find data -name "*.sqlite*" -exec rm {} +', 'block', 'find-delete-database-file'],
  ['rm -rf dist/*', 'allow'],
  ['rm -f *.log logs/*.txt', 'allow'],
  ['rm -rf build/* coverage/* .cache/??*', 'allow'],
  ["find . -name '*.tmp' -delete", 'allow'],
];

const ALL = [...BLOCK, ...SCRIPTS, ...BACKUP, ...ALLOW, ...RUNNERS_AND_GLOBS];

describe('guard classifier', () => {
  let project: Awaited<ReturnType<typeof makeProject>>;
  beforeAll(async () => {
    project = await makeProject();
  });
  afterAll(() => project.remove());

  it('has a table of at least 80 command lines across the three verdicts', () => {
    expect(ALL.length).toBeGreaterThanOrEqual(80);
    for (const verdict of ['allow', 'backup', 'block'] as const) expect(ALL.some((c) => c[1] === verdict)).toBe(true);
  });

  it.each(ALL)('%j -> %s', async (line, verdict, rule, command) => {
    const result = await classifyCommand(line, { cwd: project.dir });
    expect(result.verdict, JSON.stringify(result, null, 2)).toBe(verdict);
    if (verdict === 'allow') expect(result.reasons).toEqual([]);
    if (rule) expect(result.reasons.map((r) => r.rule)).toContain(rule);
    if (command) expect(result.reasons.map((r) => r.command)).toContain(command);
    for (const reason of result.reasons) expect(Object.keys(reason).sort()).toEqual(['command', 'message', 'rule']);
  });

  it('reads a simple line (plain words, quoted strings) without the shell parser exactly as the parser does', async () => {
    const parser = await loadShellParser();
    const lines = [
      'ls -la', 'git status', 'npm run db:reset -- --skip-seed', 'npx prisma@6 migrate reset --force', 'cd packages/api', 'psql -d app -f sql/x.sql',
      '  npm   test  ', 'node --env-file=.env x.js', 'echo "x"', 'psql -d app -c "DELETE FROM users WHERE id = 3"', "psql -c 'DROP TABLE \"User\"'",
      `sqlite3 dev.db "DELETE FROM \"User\" WHERE name = 'O''Brien'"`, 'git commit -m "fix: it\'s done"', `git commit -m 'a "quoted" word'`, 'x a"b"\'c\'d "" \'\'',
      'mysql -e "DELETE FROM t;\nDROP TABLE u"', 'node --x="a b" y', 'npm run x -- --name="a  b"', 'echo "#not a comment" \'*.db\' "~/x" \'$HOME\' "a;b|c&d>e"',
    ];
    for (const line of lines) {
      expect(simpleCommand(line, '/p', []), line).toBeDefined();
      const withParser = parseWithTreeSitter(parser, line, { cwd: '/p' }).commands.map((c) => ({ argv: c.argv, env: c.env, cwd: c.cwd, text: c.text }));
      expect(parseShell(undefined, line, { cwd: '/p' }).commands.map((c) => ({ argv: c.argv, env: c.env, cwd: c.cwd, text: c.text })), line).toEqual(withParser);
    }
    const others = [
      'if prisma migrate reset', 'ls *.db', 'rm ~/dev.db', 'a && b', 'FOO=1 prisma migrate reset', 'time dropdb app', 'ls # x', 'a=b', 'echo "$HOME"',
      'echo "a\\"b"', 'psql -c "DROP TABLE `x`"', "echo 'unclosed", 'echo "unclosed', '"psql" -c x', 'X="a b" psql', 'psql -c "x";dropdb app', 'echo a\tb', '{ dropdb app; }',
      'echo "x" > dev.db', '! dropdb app', '[[ -f x ]]',
    ];
    for (const line of others) {
      expect(() => parseShell(undefined, line, { cwd: '/p' }), line).toThrow(ShellParserNotLoaded);
    }
  });

  it('reports the most severe verdict first and keeps the other reasons', async () => {
    const result = await classifyCommand('npx prisma migrate deploy && npx prisma migrate reset --force', { cwd: project.dir });
    expect(result.verdict).toBe('block');
    expect(result.reasons.map((r) => r.rule)).toEqual(['prisma-migrate-reset', 'prisma-migrate-deploy']);
  });

  it.each([
    'PRISMA_USER_CONSENT_FOR_DANGEROUS_AI_ACTION=1 npx prisma migrate reset --force',
    'env PRISMA_USER_CONSENT_FOR_DANGEROUS_AI_ACTION=1 npx prisma migrate reset --force',
    'cross-env PRISMA_USER_CONSENT_FOR_DANGEROUS_AI_ACTION=1 prisma db push --force-reset',
  ])('says that an environment variable is not consent: %s', async (line) => {
    const result = await classifyCommand(line, { cwd: project.dir });
    expect(result.verdict).toBe('block');
    expect(result.reasons[0]?.message).toMatch(/PRISMA_USER_CONSENT_FOR_DANGEROUS_AI_ACTION is not consent/);
  });

  it('keeps passwords typed into the command out of the reasons', async () => {
    const result = await classifyCommand("psql postgres://app:s3cret@db/app -c 'DROP TABLE users' && mysql -uroot -ptopsecret -e 'TRUNCATE t'", { cwd: project.dir });
    const commands = result.reasons.map((r) => r.command).join('\n');
    expect(commands).toContain('postgres://app:***@db/app');
    expect(commands).toContain('-p***');
    expect(commands).not.toMatch(/s3cret|topsecret/);
  });

  it('reads files only through the function it is given', async () => {
    const read: string[] = [];
    const files: Record<string, string> = { '/virtual/package.json': '{"scripts":{"nuke":"psql -f nuke.sql"}}', '/virtual/nuke.sql': 'TRUNCATE users;' };
    const result = await classifyCommand('npm run nuke', {
      cwd: '/virtual',
      readFile: (file) => {
        read.push(file);
        return files[file];
      },
    });
    expect(result.verdict).toBe('block');
    expect(result.reasons[0]).toMatchObject({ rule: 'sql-truncate', command: 'npm run nuke -> psql -f nuke.sql' });
    expect(read).toEqual(['/virtual/package.json', '/virtual/nuke.sql']);
  });

  it('survives scripts that call each other in a loop, and a broken package.json', async () => {
    expect((await classifyCommand('npm run ping', { cwd: project.dir })).verdict).toBe('allow');
    const broken = await classifyCommand('npm run anything', { cwd: '/virtual', readFile: () => '{not json' });
    expect(broken.verdict).toBe('allow');
  });
});
