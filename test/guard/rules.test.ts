import { describe, expect, it } from 'vitest';
import { type InspectContext, type Invocation, TOOL_RULES, canonicalTool, evaluate, includedFiles, mayNameDatabaseFile } from '../../src/guard/rules.js';
import type { StdinSource } from '../../src/guard/shell.js';

/** The rules of one resolved command, with the SQL sources they hand to the SQL inspector. */
function check(line: string | string[], options: { stdin?: StdinSource[]; files?: Record<string, string> } = {}) {
  const [tool, ...args] = typeof line === 'string' ? line.split(' ') : line;
  const sql: Array<{ sources: StdinSource[]; client: string }> = [];
  const ctx: InspectContext = {
    sql: (sources, client) => {
      sql.push({ sources, client });
      return [{ rule: 'sql', verdict: 'block', message: '' }];
    },
    readFile: (file) => options.files?.[file],
  };
  const inv: Invocation = { tool: tool!, args, cwd: '/p', stdin: options.stdin ?? [] };
  const findings = evaluate(inv, ctx);
  return { rules: findings.map((f) => `${f.rule}:${f.verdict}`), sql };
}

const text = (t: string): StdinSource => ({ kind: 'text', text: t });
const file = (p: string): StdinSource => ({ kind: 'file', path: p });

describe('guard rules', () => {
  it.each([
    ['prisma migrate reset', 'prisma-migrate-reset:block'],
    ['prisma db push --force-reset', 'prisma-db-push-force-reset:block'],
    ['prisma db push --accept-data-loss', 'prisma-db-push-accept-data-loss:block'],
    ['prisma db push', 'prisma-db-push:backup'],
    ['prisma migrate dev', 'prisma-migrate-dev:backup'],
    ['prisma migrate deploy', 'prisma-migrate-deploy:backup'],
    ['drizzle-kit push:sqlite --force', 'drizzle-kit-push-force:block'],
    ['drizzle-kit push:mysql', 'drizzle-kit-push:backup'],
    ['drizzle-kit push:pg', 'drizzle-kit-push:backup'],
    ['drizzle-kit migrate', 'drizzle-kit-migrate:backup'],
    ['typeorm-ts-node-esm schema:drop', 'typeorm-schema-drop:block'],
    ['typeorm-ts-node-commonjs schema:sync', 'typeorm-schema-sync:backup'],
    ['typeorm migration:revert', 'typeorm-migration-run:backup'],
    ['typeorm migration:run', 'typeorm-migration-run:backup'],
    ['sequelize db:drop', 'sequelize-db-drop:block'],
    ['sequelize db:migrate:undo:all', 'sequelize-undo-all:block'],
    ['sequelize db:migrate', 'sequelize-migrate:backup'],
    ['sequelize db:migrate:undo', 'sequelize-migrate:backup'],
    ['sequelize db:seed:undo', 'sequelize-migrate:backup'],
    ['sequelize db:seed:undo:all', 'sequelize-migrate:backup'],
    ['knex migrate:rollback --all', 'knex-rollback-all:block'],
    ['knex migrate:rollback', 'knex-migrate:backup'],
    ['knex migrate:latest', 'knex-migrate:backup'],
    ['knex migrate:up', 'knex-migrate:backup'],
    ['knex migrate:down', 'knex-migrate:backup'],
    ['knex seed:run', 'knex-migrate:backup'],
    ['node-pg-migrate redo', 'node-pg-migrate-down:block'],
    ['node-pg-migrate down', 'node-pg-migrate-down:block'],
    ['node-pg-migrate up', 'node-pg-migrate-up:backup'],
    ['supabase db reset', 'supabase-db-reset:block'],
    ['supabase stop --no-backup', 'supabase-stop-no-backup:block'],
    ['supabase migration down', 'supabase-migration-down:block'],
    ['supabase db push', 'supabase-db-push:backup'],
    ['supabase migration up', 'supabase-db-push:backup'],
    ['supabase projects delete abc', 'supabase-projects-delete:block'],
    ['dropdb app', 'dropdb:block'],
    ['mysqladmin drop shop', 'mysqladmin-drop:block'],
    ['mikro-orm schema:drop --run', 'mikro-orm-schema-drop:block'],
    ['mikro-orm schema:fresh -r', 'mikro-orm-schema-drop:block'],
    ['mikro-orm migration:fresh', 'mikro-orm-migration-fresh:block'],
    ['mikro-orm migration:down', 'mikro-orm-migration-down:block'],
    ['mikro-orm schema:update --run', 'mikro-orm-schema-update:backup'],
    ['mikro-orm schema:create -r', 'mikro-orm-schema-update:backup'],
    ['mikro-orm migration:up', 'mikro-orm-migration-up:backup'],
    ['pg_restore -d app x.dump', 'pg-restore:backup'],
    ['pg_restore --dbname=app --clean x.dump', 'pg-restore-clean:block'],
    ['pg_restore -d app -c x.dump', 'pg-restore-clean:block'],
    ['docker volume prune', 'docker-volume-prune:block'],
    ['docker system prune --volumes', 'docker-volume-prune:block'],
    ['docker volume rm app_pgdata', 'docker-volume-rm:block'],
    ['docker volume remove db-data', 'docker-volume-rm:block'],
    ['docker rm -v postgres', 'docker-rm-volumes:block'],
    ['docker container rm --volumes my-mysql', 'docker-rm-volumes:block'],
    // Every spelling each rule's table lists
    ['drizzle-kit push --force', 'drizzle-kit-push-force:block'],
    ['drizzle-kit push:pg --force', 'drizzle-kit-push-force:block'],
    ['drizzle-kit push:mysql --force', 'drizzle-kit-push-force:block'],
    ['drizzle-kit push', 'drizzle-kit-push:backup'],
    ['drizzle-kit push:sqlite', 'drizzle-kit-push:backup'],
    ['typeorm schema:drop', 'typeorm-schema-drop:block'],
    ['typeorm-ts-node-commonjs schema:drop', 'typeorm-schema-drop:block'],
    ['typeorm schema:sync', 'typeorm-schema-sync:backup'],
    ['typeorm-ts-node-esm migration:run', 'typeorm-migration-run:backup'],
    ['mikro-orm schema:fresh --run', 'mikro-orm-schema-drop:block'],
    ['mikro-orm schema:drop -r', 'mikro-orm-schema-drop:block'],
    ['mikro-orm schema:update -r', 'mikro-orm-schema-update:backup'],
    ['mikro-orm schema:create --run', 'mikro-orm-schema-update:backup'],
    ['supabase db up', 'supabase-db-push:backup'],
    ['supabase migration push', 'supabase-db-push:backup'],
    ['knex migrate:rollback --all=true', 'knex-rollback-all:block'],
    ['docker-compose down --volumes', 'docker-compose-down-volumes:block'],
    ['docker-compose down -v', 'docker-compose-down-volumes:block'],
    ['docker-compose rm --volumes', 'docker-compose-rm-volumes:block'],
    ['docker-compose rm -fv', 'docker-compose-rm-volumes:block'],
    ['docker system prune -a --volumes', 'docker-volume-prune:block'],
  ])('%s -> %s', (line, expected) => {
    expect(check(line).rules).toEqual([expected]);
  });

  it.each([
    'prisma migrate reset --help',
    'prisma db push --force-reset --version',
    'docker-compose down',
    'docker-compose rm',
    'prisma migrate dev --create-only',
    'prisma migrate status',
    'prisma generate',
    'drizzle-kit generate',
    'typeorm migration:generate',
    'knex migrate:make x',
    'supabase stop',
    'supabase start',
    'mikro-orm schema:drop',
    'mikro-orm schema:update',
    'mysqladmin status',
    'pg_restore -l x.dump',
    'pg_restore -f out.sql x.dump',
    'docker system prune',
    'docker image prune',
    'docker rm -v web',
    'docker rm postgres',
    'docker volume rm cache',
    'docker volume ls',
    'prisma migrate reset --help',
    'dropdb --version',
    'ls -la',
  ])('%s -> allowed', (line) => {
    expect(check(line).rules).toEqual([]);
  });

  it('tells every tool by its canonical name', () => {
    expect(canonicalTool('/usr/bin/mariadb')).toBe('mysql');
    expect(canonicalTool('mariadb-admin')).toBe('mysqladmin');
    expect(canonicalTool('sequelize-cli')).toBe('sequelize');
    for (const remover of ['unlink', 'rimraf', 'del', 'trash']) expect(canonicalTool(remover)).toBe('rm');
    expect(canonicalTool('./node_modules/.bin/prisma')).toBe('prisma');
    expect(TOOL_RULES.every((r) => r.rule !== '' && r.tools.length > 0)).toBe(true);
  });

  describe('SQL handed to the inspector', () => {
    it('psql: -c text, -f files (relative to the folder, `-` for standard input), else what it reads', () => {
      const stdin = [text('DROP TABLE x')];
      expect(check('psql -c A --command B -f a.sql --file=/abs/b.sql').sql).toEqual([{ sources: [text('A'), text('B'), file('/p/a.sql'), file('/abs/b.sql')], client: 'psql' }]);
      expect(check('psql -f -', { stdin }).sql[0]?.sources).toEqual(stdin);
      expect(check('psql app', { stdin }).sql[0]?.sources).toEqual(stdin);
      expect(check('psql -cDROP').sql[0]?.sources).toEqual([text('DROP')]);
      expect(check('psql -l').sql).toEqual([]);
      expect(check('psql --list').sql).toEqual([]);
    });

    it("psql: an option's value is never read as an option, so `-l` or `-c` given as a value changes nothing", () => {
      const valued = ['-d', '--dbname', '-F', '--field-separator', '-h', '--host', '-L', '--log-file', '-o', '--output', '-p', '--port', '-P', '--pset', '-R', '--record-separator', '-T', '--table-attr', '-U', '--username', '-v', '--set', '--variable'];
      for (const option of valued) {
        expect(check(`psql ${option} -l -c X`).sql[0]?.sources, option).toEqual([text('X')]);
        expect(check(`psql ${option} -c`, { stdin: [text('Y')] }).sql[0]?.sources, option).toEqual([text('Y')]);
      }
    });

    it('psql and sqlite3 scripts bring the files they include', () => {
      expect(check(['psql', '-c', '\\i x.sql']).sql[0]?.sources).toEqual([text('\\i x.sql'), file('/p/x.sql')]);
      expect(check(['sqlite3', 'dev.db', '.read x.sql']).sql[0]?.sources).toEqual([text('.read x.sql'), file('/p/x.sql')]);
      expect(includedFiles('\\i a.sql\n\\ir b.sql\n\\include c.sql\n\\include_relative d.sql\n.read e.sql\nsource f.sql;\n\\. g.sql\n', '/cwd', '/dir')).toEqual([
        file('/cwd/a.sql'), file('/dir/b.sql'), file('/cwd/c.sql'), file('/dir/d.sql'), file('/cwd/e.sql'), file('/cwd/f.sql'), file('/cwd/g.sql'),
      ]);
      expect(includedFiles(`\\i 'a b.sql'\n\\i "c d.sql"\n  \\i e.sql ;  \n`, '/w')).toEqual([file('/w/a b.sql'), file('/w/c d.sql'), file('/w/e.sql')]);
      expect(includedFiles('SELECT 1; \\i a.sql\nsource notes.txt\n-- \\i b.sql\n', '/w')).toEqual([]);
    });

    it('sqlite3: statements after the file, -cmd, -init files; -readonly checks nothing', () => {
      expect(check('sqlite3 dev.db A B').sql).toEqual([{ sources: [text('A'), text('B')], client: 'sqlite3' }]);
      expect(check('sqlite3 -cmd A dev.db').sql[0]?.sources).toEqual([text('A')]);
      expect(check('sqlite3 --cmd A -init i.sql dev.db B').sql[0]?.sources).toEqual([file('/p/i.sql'), text('A'), text('B')]);
      expect(check('sqlite3 dev.db', { stdin: [text('S')] }).sql[0]?.sources).toEqual([text('S')]);
      expect(check('sqlite3 -readonly dev.db A').sql).toEqual([]);
      for (const option of ['-separator', '-nullvalue', '-newline', '-mmap', '-vfs', '-maxsize', '-pagecache', '-lookaside', '-heap']) {
        expect(check(`sqlite3 ${option} x dev.db A`).sql[0]?.sources, option).toEqual([text('A')]);
      }
    });

    it('mysql: -e and --execute, else what it reads; `-p` takes only an attached password', () => {
      expect(check('mysql -e A --execute B').sql).toEqual([{ sources: [text('A'), text('B')], client: 'mysql' }]);
      expect(check('mysql -p -e A').sql[0]?.sources).toEqual([text('A')]);
      expect(check('mysql shop', { stdin: [text('S')] }).sql[0]?.sources).toEqual([text('S')]);
      for (const option of ['-u', '--user', '-h', '--host', '-P', '--port', '-D', '--database', '-S', '--socket', '--default-character-set', '--login-path']) {
        expect(check(`mysql ${option} -e`, { stdin: [text('S')] }).sql[0]?.sources, option).toEqual([text('S')]);
      }
    });

    it('prisma db execute: --stdin, --file, or nothing it can see', () => {
      const stdin = [text('S')];
      expect(check('prisma db execute --stdin', { stdin }).sql).toEqual([{ sources: stdin, client: 'prisma db execute' }]);
      expect(check('prisma db execute --file a.sql').sql[0]?.sources).toEqual([file('/p/a.sql')]);
      expect(check('prisma db execute --schema --file --file a.sql').sql[0]?.sources).toEqual([file('/p/a.sql')]);
      expect(check('prisma db execute --url --file').rules).toEqual(['prisma-db-execute:backup']);
      expect(check('prisma db execute --config --stdin', { stdin }).rules).toEqual(['prisma-db-execute:backup']);
      expect(check('prisma db execute', { stdin }).rules).toEqual(['prisma-db-execute:backup']);
    });

    it('typeorm query: the words after `query`', () => {
      expect(check('typeorm query DELETE FROM x').sql).toEqual([{ sources: [text('DELETE FROM x')], client: 'typeorm query' }]);
      expect(check('typeorm -d query.ts query A').sql[0]?.sources).toEqual([text('A')]);
      expect(check('typeorm query').sql).toEqual([]);
      expect(check('typeorm query').rules).toEqual([]);
    });

    it("an inspector's finding without a rule gets the rule's id", () => {
      const inv: Invocation = { tool: 'psql', args: ['-c', 'x'], cwd: '/p', stdin: [] };
      const findings = evaluate(inv, { sql: () => [{ rule: '', verdict: 'backup', message: 'm' }], readFile: () => undefined });
      expect(findings.map((f) => f.rule)).toEqual(['psql']);
    });
  });

  describe('database files', () => {
    it.each([
      ['dev.db', true], ['data/app.sqlite', true], ['x.sqlite3', true], ['x.db3', true], ['x.s3db', true], ['x.sl3', true], ['X.DB', true],
      ['dev.db-wal', true], ['dev.db-shm', true], ['dev.db-journal', true], ['dev.db/', true], ['dev.dbx', false], ['db', false], ['dev.db.bak', false],
      ['Thumbs.db', false], ['x/ehthumbs_vista.db', false], ['ehthumbs.db', false], ['mythumbs.db', true],
      ['*.db', true], ['*.db*', true], ['data/*', false], ['dist/*', false], ['*', false], ['dev.sqlite?', true], ['dev.db?', true], ['dev.txt?', false], ['dev.?b', false],
      ['dev.sqlite[0-9]', true], ['dev.sqlite[!3]', false], ['dev.sqlite[^a]', true], ['dev.[d]b', true], ['dev.[]b', false], ['x.db-[ws]al', true],
      ['**/*.sqlite', true], ['*.db-*', true], ['dev.*', false], ['*.*', false], ['a?.txt', false],
      ['?????????????????????????????????????????????', true],
    ] as const)('%s -> %s', (target, expected) => {
      expect(mayNameDatabaseFile(target)).toBe(expected);
    });

    it('rm: database files, data folders, computed targets; one file inside a data folder is not the folder', () => {
      expect(check('rm dev.db').rules).toEqual(['rm-sqlite-database:block']);
      expect(check('rm -f notes.txt').rules).toEqual([]);
      expect(check('rm -rf pgdata').rules).toEqual(['rm-database-directory:block']);
      expect(check('rm -r docker/postgres-data/').rules).toEqual(['rm-database-directory:block']);
      expect(check('rm -R db_data/base').rules).toEqual(['rm-database-directory:block']);
      expect(check('rm --recursive mysql-data/x').rules).toEqual(['rm-database-directory:block']);
      expect(check('rm pgdata/postmaster.pid').rules).toEqual([]);
      expect(check('rm pgdata/*').rules).toEqual(['rm-database-directory:block']);
      expect(check('rm pgdata').rules).toEqual(['rm-database-directory:block']);
      expect(check('rm -r /var/lib/postgresql/16/main').rules).toEqual(['rm-database-directory:block']);
      expect(check('rm /opt/homebrew/var/postgresql@16/*').rules).toEqual(['rm-database-directory:block']);
      expect(check('rm /var/lib/postgresql/.psql_history').rules).toEqual([]);
      expect(check('rm -rf node_modules dist').rules).toEqual([]);
      expect(check(['rm', "$(find . -name '*.db')"]).rules).toEqual(['rm-sqlite-database:block']);
      expect(check('rm', { stdin: [{ kind: 'opaque', command: "find . -name '*.sqlite'" }] }).rules).toEqual(['rm-sqlite-database:block']);
      expect(check('rm', { stdin: [text('a.db\nb.db')] }).rules).toEqual(['rm-sqlite-database:block']);
      expect(check('rm', { stdin: [file('/p/list.txt')] }).rules).toEqual([]);
      expect(check('rm -rf pgdata dev.db').rules).toEqual(['rm-sqlite-database:block', 'rm-database-directory:block']);
    });

    it.each([
      ['pgdata', true], ['pg_data', true], ['PGDATA', true], ['postgres-data', true], ['postgresql_data', true], ['postgresdata', true],
      ['mysql_data', true], ['mariadb-data', true], ['mongo-data', true], ['mongodb_data', true], ['db-data', true], ['database_data', true],
      ['app/pgdata/', true], ['mypgdata', false], ['pgdata2', false], ['pgdata.bak', false], ['old-db-data', false], ['db-data-old', false],
      ['data', false], ['postgres', false],
      ['/var/lib/postgresql', true], ['/var/lib/postgres/x', true], ['/var/lib/mysql', true], ['/var/lib/mariadb/', true], ['/var/lib/mongodb', true],
      ['var/mysql', true], ['/usr/local/var/postgresql@16', true], ['/opt/homebrew/var/postgresql@14.2/base', true], ['/var/postgres', true],
      ['/var/lib/postgresql-backup', false], ['/myvar/lib/mysql', false], ['/var/lib/mysqlx', false], ['/var/lib/redis', false], ['/srv/var-lib/mysql', false],
    ])('rm -r %s deletes a database data folder: %s', (target, deletes) => {
      expect(check(`rm -r ${target}`).rules).toEqual(deletes ? ['rm-database-directory:block'] : []);
    });

    it("rm: a Compose project's bind-mounted data folder, recursively or through a glob inside it", () => {
      const files = { '/p/docker-compose.yml': 'services:\n  db:\n    image: postgres:16\n    volumes:\n      - ./storage:/var/lib/postgresql/data\n' };
      expect(check('rm -rf storage', { files }).rules).toEqual(['rm-database-directory:block']);
      expect(check('rm -rf ./storage/', { files }).rules).toEqual(['rm-database-directory:block']);
      expect(check('rm storage/*', { files }).rules).toEqual(['rm-database-directory:block']);
      expect(check('rm storage/sub/*', { files }).rules).toEqual(['rm-database-directory:block']);
      expect(check('rm -r .', { files }).rules).toEqual(['rm-database-directory:block']);
      expect(check('rm -r st*', { files }).rules).toEqual(['rm-database-directory:block']);
      expect(check('rm *', { files }).rules).toEqual([]);
      expect(check('rm storage', { files }).rules).toEqual([]);
      expect(check('rm storage/x.log', { files }).rules).toEqual([]);
      expect(check('rm -r other', { files }).rules).toEqual([]);
      expect(check('rm -r storage2', { files }).rules).toEqual([]);
      expect(check('rm other/*', { files }).rules).toEqual([]);
    });

    it('find: -delete or -exec rm with a database pattern that is not negated', () => {
      expect(check("find . -name *.db -delete").rules).toEqual(['find-delete-database-file:block']);
      expect(check('find . -name *.sqlite -exec rm {} +').rules).toEqual(['find-delete-database-file:block']);
      expect(check('find . -name *.sqlite -execdir /bin/rm -f {} ;').rules).toEqual(['find-delete-database-file:block']);
      expect(check('find . -name *.sqlite -exec cat {} ;').rules).toEqual([]);
      expect(check('find . -name *.log -delete').rules).toEqual([]);
      expect(check('find . -not -name *.db -delete').rules).toEqual([]);
      expect(check('find . ! -name *.db -delete').rules).toEqual([]);
      expect(check('find . -name *.db').rules).toEqual([]);
    });

    it('truncate, cp, mv, install, rsync over a database file', () => {
      expect(check('truncate -s 0 dev.db').rules).toEqual(['truncate-database-file:block']);
      expect(check('truncate --size 0 app.log').rules).toEqual([]);
      expect(check('truncate -r dev.db app.log').rules).toEqual([]);
      expect(check('truncate --reference dev.db app.log').rules).toEqual([]);
      for (const tool of ['cp', 'mv', 'install', 'rsync']) expect(check(`${tool} backup.db dev.db`).rules, tool).toEqual(['copy-over-database-file:block']);
      expect(check('cp dev.db backup/').rules).toEqual([]);
      expect(check('cp dev.db').rules).toEqual([]);
      expect(check('cp a.db b.db *.db').rules).toEqual([]);
      for (const safe of ['-n', '--no-clobber', '-b', '--backup', '-t backups', '--target-directory backups']) {
        expect(check(`cp ${safe} new.db dev.db`).rules, safe).toEqual([]);
      }
      for (const valued of ['-S', '--suffix', '-m', '--mode', '-o', '--owner', '-g', '--group']) {
        expect(check(`install ${valued} dev.db x.txt`).rules, valued).toEqual([]);
      }
    });

    // `<tool> <option> old.db dev.db`: old.db is the option's value, so no file is copied over dev.db.
    const COPY_VALUES: Array<[string, string[]]> = [
      ['cp', ['-S', '--suffix', '-t', '--target-directory']],
      ['mv', ['-S', '--suffix', '-t', '--target-directory']],
      ['install', ['-S', '--suffix', '-t', '--target-directory', '-m', '--mode', '-o', '--owner', '-g', '--group']],
      ['rsync', ['-e', '--rsh', '-f', '--filter', '--exclude', '--include', '--exclude-from', '--include-from', '--files-from', '-T', '--temp-dir', '--backup-dir', '--suffix', '-B', '--block-size', '--chmod', '--chown', '--usermap', '--groupmap', '--log-file', '--log-file-format', '--out-format', '-M', '--remote-option', '--compare-dest', '--copy-dest', '--link-dest', '--partial-dir', '--timeout', '--contimeout', '--port', '--address', '--password-file', '--bwlimit', '--max-size', '--min-size', '--max-delete', '--modify-window', '--info', '--debug', '--iconv', '--skip-compress', '--rsync-path', '--sockopts', '--outbuf', '--protocol', '--checksum-choice', '--compress-choice', '--compress-level', '--checksum-seed', '--write-batch', '--only-write-batch', '--read-batch', '--stop-after', '--stop-at']],
    ];
    it.each(COPY_VALUES.flatMap(([tool, options]) => options.map((o) => `${tool} ${o} old.db dev.db`)))('%s copies nothing over dev.db', (line) => {
      expect(check(line).rules).toEqual([]);
    });

    it('rsync: short options are flags, and only a dry run, a backup or --ignore-existing leave the file alone', () => {
      for (const line of ['rsync -avt backup.db dev.db', 'rsync -rlptgoD backup.db dev.db', 'rsync -o -g -m -S -t backup.db dev.db', 'rsync --existing backup.db dev.db', 'mv -f -u backup.db dev.db']) {
        expect(check(line).rules, line).toEqual(['copy-over-database-file:block']);
      }
      for (const line of ['rsync -n backup.db dev.db', 'rsync --dry-run backup.db dev.db', 'rsync -ab backup.db dev.db', 'rsync --backup backup.db dev.db', 'rsync --ignore-existing backup.db dev.db', 'rsync --list-only backup.db dev.db', 'mv -n backup.db dev.db', 'install -b backup.db dev.db']) {
        expect(check(line).rules, line).toEqual([]);
      }
    });

    it("the database clients' short options with an attached value are not bundles (`-Fc` is a format, not --clean)", () => {
      for (const option of ['-f', '-F', '-h', '-p', '-U', '-j', '-n', '-N', '-t', '-T', '-I', '-P', '-L', '-S']) {
        expect(check(`pg_restore -d app ${option}customers x.dump`).rules, option).toEqual(['pg-restore:backup']);
      }
      expect(check('pg_restore --dbname app x.dump').rules).toEqual(['pg-restore:backup']);
      expect(check('pg_restore --clean --dbname=app x.dump').rules).toEqual(['pg-restore-clean:block']);
      const stdin = [text('DROP TABLE t')];
      for (const option of ['-d', '-F', '-h', '-L', '-o', '-p', '-P', '-R', '-T', '-U', '-v']) {
        expect(check(`psql ${option}cfx`, { stdin }).sql[0]?.sources, option).toEqual(stdin);
      }
      for (const option of ['-u', '-h', '-P', '-D', '-S']) {
        expect(check(`mysql ${option}example`, { stdin }).sql[0]?.sources, option).toEqual(stdin);
      }
      for (const option of ['--user', '--host', '--port', '--database', '--socket', '--default-character-set', '--login-path']) {
        expect(check(`mysql ${option} -eX`, { stdin }).sql[0]?.sources, option).toEqual(stdin);
      }
      for (const option of ['-init', '-separator', '-nullvalue', '-newline', '-mmap', '-vfs', '-maxsize', '-pagecache', '-lookaside', '-heap']) {
        expect(check(`sqlite3 ${option} x dev.db`, { stdin }).sql[0]?.sources.filter((s) => s.kind === 'text'), option).toEqual(stdin);
      }
    });
  });

  describe('containers', () => {
    const compose = 'services:\n  db:\n    image: postgres:16\n    volumes:\n      - pgdata:/var/lib/postgresql/data\n  cache:\n    image: redis\nvolumes:\n  pgdata: {}\n  uploads: {}\n';
    const uploadsOnly = 'services:\n  web:\n    image: nginx\n    volumes:\n      - uploads:/srv\nvolumes:\n  uploads: {}\n';
    const anonymous = 'services:\n  db:\n    image: mysql:8\n';
    const named = 'services:\n  db:\n    image: postgres:16\n    volumes:\n      - store:/var/lib/postgresql/data\nvolumes:\n  store: {}\n';

    it('compose down -v: blocks for database volumes, asks a backup for other named volumes, else allows', () => {
      expect(check('docker-compose down -v', { files: { '/p/compose.yaml': compose } }).rules).toEqual(['docker-compose-down-volumes:block']);
      expect(check('docker-compose down --volumes', { files: { '/p/compose.yaml': uploadsOnly } }).rules).toEqual(['docker-compose-down-volumes:backup']);
      expect(check('docker-compose down -v', { files: { '/p/compose.yaml': 'services:\n  web:\n    image: nginx\n' } }).rules).toEqual([]);
      expect(check('docker-compose down -v').rules).toEqual(['docker-compose-down-volumes:block']);
      expect(check('docker-compose down').rules).toEqual([]);
    });

    it("compose rm -v: a database service's anonymous volume; named volumes stay", () => {
      expect(check('docker-compose rm -v', { files: { '/p/compose.yaml': anonymous } }).rules).toEqual(['docker-compose-rm-volumes:block']);
      expect(check('docker-compose rm -fv', { files: { '/p/compose.yaml': named } }).rules).toEqual([]);
      expect(check('docker-compose rm -v').rules).toEqual(['docker-compose-rm-volumes:block']);
    });

    it("compose's own options before the subcommand choose the file, folder and project", () => {
      const files = { '/p/infra/db.yml': compose, '/p/sub/compose.yaml': compose };
      expect(check('docker-compose -f infra/db.yml down -v', { files }).rules).toEqual(['docker-compose-down-volumes:block']);
      expect(check('docker-compose --file=infra/db.yml down -v', { files }).rules).toEqual(['docker-compose-down-volumes:block']);
      expect(check('docker-compose --project-directory sub down -v', { files }).rules).toEqual(['docker-compose-down-volumes:block']);
      expect(check('docker-compose -f infra/none.yml down -v', { files: { '/p/compose.yaml': 'services:\n  web:\n    image: nginx\n' } }).rules).toEqual(['docker-compose-down-volumes:block']);
      expect(check('docker-compose -p other -f infra/db.yml down -v', { files }).rules).toEqual(['docker-compose-down-volumes:block']);
    });

    it('docker volume rm: database-like names, volumes of the Compose project, names only known later', () => {
      for (const name of ['app_pgdata', 'db-data', 'mysql', 'myPostgres', 'x.mongo', 'supabase_db_x', 'redis', 'timescaledb', 'pg']) {
        expect(check(`docker volume rm ${name}`).rules, name).toEqual(['docker-volume-rm:block']);
      }
      for (const name of ['cache', 'uploads', 'dbx', 'node_modules', 'pgadmin']) expect(check(`docker volume rm ${name}`).rules, name).toEqual([]);
      expect(check('docker volume rm p_store', { files: { '/p/compose.yaml': named } }).rules).toEqual(['docker-volume-rm:block']);
      expect(check('docker volume rm p_store').rules).toEqual([]);
      expect(check(['docker', 'volume', 'rm', '$(docker volume ls -q)']).rules).toEqual(['docker-volume-rm:block']);
      expect(check('docker volume rm').rules).toEqual(['docker-volume-rm:block']);
      expect(check('docker volume rm -f cache').rules).toEqual([]);
    });

    it('docker rm -v: containers whose names look like a database, or are computed', () => {
      expect(check('docker rm -f -v app-db').rules).toEqual(['docker-rm-volumes:block']);
      expect(check('docker rm -v --filter name=x web').rules).toEqual([]);
      expect(check(['docker', 'rm', '-v', '`docker ps -aq`']).rules).toEqual(['docker-rm-volumes:block']);
      expect(check('docker container rm -v container').rules).toEqual([]);
      for (const line of ['docker rm -v -f postgres', 'docker rm -v --force app-db', 'docker rm -fv postgres', 'docker container rm --volumes -f mysql']) {
        expect(check(line).rules, line).toEqual(['docker-rm-volumes:block']);
      }
    });
  });
});
