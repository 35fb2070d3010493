import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyCommand } from '../../src/guard/classify.js';
import type { Verdict } from '../../src/guard/types.js';

/** [command line, verdict, rule that must be among the reasons] */
type Case = [line: string, verdict: Verdict, rule?: string];

/** Kinds of command a tester got past the guard, or that it blocked wrongly; each kind with forms of our own. */
const KINDS: Record<string, Case[]> = {
  'SQL text: byte offsets, byte-order marks': [
    ['psql app -f sql/accents.sql', 'block', 'sql-delete-without-where'],
    ['psql app -f sql/emoji.sql', 'block', 'sql-drop-table'],
    ['psql app -f sql/bom.sql', 'block', 'sql-truncate'],
    ["psql -c \"-- Lösche alte Einträge\nSELECT 1 FROM x WHERE ;\nDELETE FROM users\"", 'block', 'sql-delete-without-where'],
  ],
  'SQL: a WHERE that is always true': [
    ['psql -c "DELETE FROM users WHERE 1=1"', 'block', 'sql-delete-without-where'],
    ['psql -c "DELETE FROM users WHERE true"', 'block', 'sql-delete-without-where'],
    ["psql -c \"UPDATE users SET name = 'x' WHERE 'a' = 'a' OR id = 2\"", 'block', 'sql-update-without-where'],
    ['sqlite3 dev.db "DELETE FROM users WHERE 1"', 'block', 'sql-delete-without-where'],
    ['psql -c "DELETE FROM users WHERE id = id"', 'block', 'sql-delete-without-where'],
    ['psql -c "DELETE FROM users WHERE id = 1 AND 1 = 1"', 'allow'],
    ['psql -c "DELETE FROM users WHERE 1 = 0"', 'allow'],
  ],
  'SQL made at run time': [
    ["psql -c \"DO \\$\\$ BEGIN EXECUTE 'DROP TABLE ' || 'users'; END \\$\\$\"", 'block', 'sql-dynamic'],
    ["psql -c \"DO \\$\\$ BEGIN DELETE FROM users; END \\$\\$\"", 'block', 'sql-do-block'],
    ["psql app <<'EOF'\nSELECT format('DROP TABLE %I', tablename) FROM pg_tables WHERE schemaname = 'public' \\gexec\nEOF", 'block', 'psql-gexec'],
    ["psql -Atc \"SELECT 'DROP TABLE ' || tablename || ';' FROM pg_tables\" | psql app", 'block', 'sql-generated'],
    ['pg_restore --clean -f - backup.dump | psql app', 'block', 'sql-clean-dump'],
    ['pg_dump --clean app | psql other', 'block', 'sql-clean-dump'],
    ['pg_dump -Fc app | pg_restore -d other', 'backup'],
    ['pg_dump app | psql other', 'backup', 'sql-not-visible'],
    ["sqlite3 dev.db '.restore old.db'", 'block', 'sqlite-restore'],
    ['sqlite3 dev.db < sql/restore.txt', 'block', 'sqlite-restore'],
  ],
  'SQL includes inside files': [
    ['psql app -f sql/main.sql', 'block', 'sql-drop-table'],
    ['sqlite3 dev.db < sql/read-outer.sql', 'block', 'sql-truncate'],
    ['psql app -f sql/loop-a.sql', 'allow'],
  ],
  'SQL that runs nothing, or that another dialect writes': [
    ['psql -c "EXPLAIN DELETE FROM users"', 'allow'],
    ['psql -c "EXPLAIN (COSTS off) DELETE FROM users"', 'allow'],
    ['psql -c "EXPLAIN ANALYZE DELETE FROM users"', 'block', 'sql-delete-without-where'],
    ["psql -v id=3 -c 'DELETE FROM users WHERE id = :id'", 'allow'],
    ["psql -v t=users -c 'DELETE FROM :\"t\" WHERE id = 1'", 'allow'],
    ["psql -v t=users -c 'DELETE FROM :\"t\"'", 'block', 'sql-delete-without-where'],
  ],
  'SQLite and MySQL SQL, read with a parser for its dialect': [
    ['sqlite3 dev.db "DELETE FROM User WHERE id = 3"', 'allow'],
    ['sqlite3 prisma/dev.db \'DELETE FROM "User" WHERE id = 3\'', 'allow'],
    ['sqlite3 dev.db "SELECT * FROM Order LIMIT 5"', 'allow'],
    ['sqlite3 dev.db "INSERT OR REPLACE INTO Session VALUES (1, 2)"', 'allow'],
    ['sqlite3 dev.db "BEGIN; DELETE FROM User WHERE id = 3; COMMIT;"', 'allow'],
    ['sqlite3 dev.db "DELETE FROM Post WHERE id IN (1, 2) RETURNING id"', 'allow'],
    ['sqlite3 dev.db "DELETE FROM Session WHERE expires < 1700000000"', 'allow'],
    ['sqlite3 dev.db "DELETE FROM Session"', 'block', 'sql-delete-without-where'],
    ['sqlite3 dev.db "DELETE FROM User"', 'block', 'sql-delete-without-where'],
    ['sqlite3 dev.db "BEGIN; DELETE FROM User; COMMIT;"', 'block', 'sql-delete-without-where'],
    ['sqlite3 dev.db "UPDATE User SET role = \'admin\' WHERE true"', 'block', 'sql-update-without-where'],
    ['sqlite3 dev.db "DROP TABLE IF EXISTS User"', 'block', 'sql-drop-table'],
    ['sqlite3 dev.db "ALTER TABLE User DROP COLUMN email"', 'block', 'sql-drop-column'],
    ['sqlite3 dev.db "ALTER TABLE User RENAME TO Member"', 'backup', 'sql-schema-change'],
    ['sqlite3 dev.db "UPDATE OR IGNORE User SET name = \'x\'"', 'block', 'sql-unparseable'],
    ['mysql -e "DELETE FROM users WHERE created < NOW() - INTERVAL 30 DAY LIMIT 100"', 'allow'],
    ['mariadb app -e "DELETE t1 FROM orders t1 JOIN users t2 ON t1.user_id = t2.id WHERE t2.banned = 1"', 'allow'],
    ["mysql -e \"DELETE FROM users WHERE name = 'O\\'Brien'\"", 'allow'],
    ['mysql app -e "ALTER TABLE users DROP INDEX idx_email"', 'backup', 'sql-schema-change'],
    ['mysql app -e "SHOW CREATE TABLE users"', 'allow'],
    ['mysql app -e "SELECT * FROM `order` WHERE id = 1"', 'allow'],
    ['mysql -e "EXPLAIN DELETE FROM users"', 'allow'],
    ['mysql app -e "DELETE FROM users ORDER BY id LIMIT 10"', 'block', 'sql-delete-without-where'],
    ['mysql app -e "DELETE FROM users WHERE 1"', 'block', 'sql-delete-without-where'],
    ['mysql app -e "UPDATE users SET plan = 0 WHERE id = id"', 'block', 'sql-update-without-where'],
    ['mariadb -uroot -e "DROP DATABASE app"', 'block', 'sql-drop-database'],
    ['mysql app -e "TRUNCATE users"', 'block', 'sql-truncate'],
    ['mysql app -e "ALTER TABLE users DROP email"', 'block', 'sql-drop-column'],
    ['echo "DELETE FROM users" | mysql app', 'block', 'sql-delete-without-where'],
    ["mysql app <<'SQL'\nDELETE FROM users WHERE id = 3 LIMIT 1;\nSQL", 'allow'],
    ["mariadb app <<'SQL'\nDROP TABLE sessions;\nSQL", 'block', 'sql-drop-table'],
    ['mysql app < sql/mysql-dump.sql', 'block', 'sql-drop-table'],
    ['mysql app < sql/mysql-source.sql', 'block', 'sql-truncate'],
    ['mysqladmin -u root -f drop app', 'block', 'mysqladmin-drop'],
    ['mysqladmin --user=root --force drop app', 'block', 'mysqladmin-drop'],
    ['mysql -e "DELETE LOW_PRIORITY QUICK IGNORE FROM users WHERE id = 1"', 'backup', 'sql-unparseable'],
    ['npx typeorm query "DELETE FROM User WHERE id = 3"', 'allow'],
  ],
  'SQL from a file written earlier on the line': [
    ['pg_dump app -f /tmp/dbguard-never-written/x.sql && psql -d other -f /tmp/dbguard-never-written/x.sql', 'backup', 'sql-not-visible'],
    ['pg_dump -Fp -c app -f /tmp/dbguard-never-written/x.sql && psql -d other -f /tmp/dbguard-never-written/x.sql', 'block', 'sql-clean-dump'],
    ['psql -d other -f /tmp/dbguard-never-written/y.sql', 'block', 'sql-file-unreadable'],
  ],
  'Arguments: bundled options, shells, env': [
    ['sudo -iu postgres dropdb app', 'block', 'dropdb'],
    ['sudo -Eu postgres psql -c "DROP DATABASE app"', 'block', 'sql-drop-database'],
    ["bash -euo pipefail -c 'npx prisma migrate reset --force'", 'block', 'prisma-migrate-reset'],
    ["su postgres --command='dropdb app'", 'block', 'dropdb'],
    ['env $(cat .env | xargs) npx prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
    ['npx dotenv-cli -e .env -- prisma migrate reset --force', 'block', 'prisma-migrate-reset'],
    ['dotenvx run -f .env.local -- prisma db push --force-reset', 'block', 'prisma-db-push-force-reset'],
    ['source scripts/reset.sh', 'block', 'prisma-migrate-reset'],
    ['. ./scripts/reset.sh', 'block', 'prisma-migrate-reset'],
    ['sudo -iu postgres psql -c "SELECT 1"', 'allow'],
  ],
  'Lifecycle scripts and --prefix after run': [
    ['npm restart', 'block', 'sql-drop-schema'],
    ['npm install', 'block', 'prisma-migrate-reset'],
    ['npm ci', 'block', 'prisma-migrate-reset'],
    ['pnpm install', 'block', 'prisma-migrate-reset'],
    ['yarn', 'block', 'prisma-migrate-reset'],
    ['bun install', 'block', 'prisma-migrate-reset'],
    ['npm install left-pad', 'allow'],
    ['npm run --prefix packages/api reset', 'block', 'supabase-db-reset'],
  ],
  'Files: globs, defaults, loops, computed paths': [
    ['rm -f ${DB_FILE:-prisma/dev.db}', 'block', 'rm-sqlite-database'],
    ['for f in dev.db test.db; do rm -f "$f"; done', 'block', 'rm-sqlite-database'],
    ["rm -f $(find . -name '*.sqlite')", 'block', 'rm-sqlite-database'],
    ["find . -name '*.db' | xargs rm -f", 'block', 'rm-sqlite-database'],
    ['npx rimraf prisma/dev.db', 'block', 'rm-sqlite-database'],
    ['npx shx rm -f data/app.sqlite3', 'block', 'rm-sqlite-database'],
    ['npx del-cli "data/*.db"', 'block', 'rm-sqlite-database'],
    ['truncate -s 0 dev.db', 'block', 'truncate-database-file'],
    [': > prisma/dev.db', 'block', 'redirect-overwrites-database'],
    ['cat /dev/null > dev.sqlite', 'block', 'redirect-overwrites-database'],
    ['cp backups/old.db prisma/dev.db', 'block', 'copy-over-database-file'],
    ['mv /tmp/new.sqlite3 data/app.sqlite3', 'block', 'copy-over-database-file'],
    ['cp prisma/dev.db /tmp/', 'allow'],
    ['echo log >> notes.txt', 'allow'],
  ],
  'Files: data folders of real installations': [
    ['sudo rm -rf /var/lib/postgresql/15/main', 'block', 'rm-database-directory'],
    ['rm -rf /var/lib/mysql', 'block', 'rm-database-directory'],
    ['rm -rf /opt/homebrew/var/postgresql@16', 'block', 'rm-database-directory'],
    ['rm -rf /usr/local/var/postgres', 'block', 'rm-database-directory'],
    ['rm -rf ./docker/db-data', 'block', 'rm-database-directory'],
    ['rm -rf volumes/pgdata/*', 'block', 'rm-database-directory'],
    ['rm -f pgdata/postmaster.pid', 'allow'],
    ['rm -f /var/lib/postgresql/15/main/postmaster.pid', 'allow'],
    ['rm -rf node_modules/postgres', 'allow'],
  ],
  'Files: what is not a database': [
    ['rm -f Thumbs.db', 'allow'],
    ['rm -f photos/Thumbs.db', 'allow'],
    ["find . -name '*.log' ! -name '*.db' -delete", 'allow'],
    ["find . -type f -not -name '*.sqlite' -name '*.tmp' -delete", 'allow'],
  ],
  'Docker': [
    ['docker volume rm $(docker volume ls -q)', 'block', 'docker-volume-rm'],
    ['docker volume ls -q | xargs docker volume rm', 'block', 'docker-volume-rm'],
    ['docker compose rm -fsv', 'block', 'docker-compose-rm-volumes'],
    ['docker compose rm -v db', 'block', 'docker-compose-rm-volumes'],
    ['docker rm -fv postgres', 'block', 'docker-rm-volumes'],
    ['docker rm -v app-db-1', 'block', 'docker-rm-volumes'],
    ['docker run --rm -e PGPASSWORD=x postgres:16 psql -h db -U app -c "DROP TABLE users"', 'block', 'sql-drop-table'],
    ['docker --context prod compose down -v', 'block', 'docker-compose-down-volumes'],
    ['docker volume rm feedback_uploads caddy_data', 'allow'],
    ['docker rm -v web-1', 'allow'],
    ['docker run --rm node:20 npm test', 'allow'],
  ],
  'Tools': [
    ['npx typeorm query "DROP TABLE users"', 'block', 'sql-drop-table'],
    ['npx typeorm query "SELECT 1"', 'allow'],
    ['npx mikro-orm schema:drop --run', 'block', 'mikro-orm-schema-drop'],
    ['npx mikro-orm schema:fresh -r', 'block', 'mikro-orm-schema-drop'],
    ['npx mikro-orm migration:fresh', 'block', 'mikro-orm-migration-fresh'],
    ['npx mikro-orm schema:update --run', 'backup', 'mikro-orm-schema-update'],
    ['npx mikro-orm schema:drop --dump', 'allow'],
    ['mariadb-admin -u root drop app', 'block', 'mysqladmin-drop'],
    ['npx supabase projects delete abcdefgh', 'block', 'supabase-projects-delete'],
  ],
};

describe('guard accuracy (issue 20 kinds)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'dbguard-accuracy-'));
    const files: Record<string, string> = {
      'package.json': JSON.stringify({ name: 'app', scripts: { postinstall: 'prisma migrate reset --force', prestop: 'psql -f sql/wipe.sql', stop: 'pkill -f server.js', start: 'node server.js' } }),
      'packages/api/package.json': JSON.stringify({ name: 'api', scripts: { reset: 'supabase db reset' } }),
      'sql/wipe.sql': 'DROP SCHEMA public CASCADE;\n',
      'sql/accents.sql': '-- Supprime les entrées créées à l’été 2024 (très important)\nSELECT 1 FROM x WHERE ;\nDELETE FROM users;\n',
      'sql/emoji.sql': "-- 🚀🚀 nettoyage 🚀\nSELECT 'déjà';\nSELECT oops FROM;\nDROP TABLE sessions;\n",
      'sql/bom.sql': '\uFEFFTRUNCATE users;\n',
      'sql/restore.txt': '.restore backups/old.db\n',
      'sql/main.sql': '\\ir parts/drop.sql\n',
      'sql/parts/drop.sql': 'DROP TABLE users;\n',
      'sql/read-outer.sql': '.read sql/read-inner.sql\n',
      'sql/read-inner.sql': 'TRUNCATE logs;\n',
      'sql/loop-a.sql': '\\ir loop-b.sql\nSELECT 1;\n',
      'sql/loop-b.sql': '\\ir loop-a.sql\n',
      'scripts/reset.sh': 'npx prisma migrate reset --force\n',
      'sql/mysql-dump.sql': "-- MySQL dump 10.13\n/*!40101 SET NAMES utf8mb4 */;\nDROP TABLE IF EXISTS `users`;\nCREATE TABLE `users` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  `updated` timestamp NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\nLOCK TABLES `users` WRITE;\nINSERT INTO `users` VALUES (1,NULL);\nUNLOCK TABLES;\n",
      'sql/mysql-source.sql': 'SELECT 1;\nsource sql/mysql-inner.sql\n',
      'sql/mysql-inner.sql': 'TRUNCATE logs;\n',
    };
    for (const [file, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), text);
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  for (const [kind, cases] of Object.entries(KINDS)) {
    it.each(cases)(`${kind}: %j -> %s`, async (line, verdict, rule) => {
      const result = await classifyCommand(line, { cwd: dir });
      expect(result.verdict, JSON.stringify(result, null, 2)).toBe(verdict);
      if (rule) expect(result.reasons.map((r) => r.rule)).toContain(rule);
    });
  }
});
