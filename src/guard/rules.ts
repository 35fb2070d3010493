import path from 'node:path';
import { hasFlag, hasOption, matchesSubcommand, optionValues, parseArgs } from './args.js';
import { composeData } from './compose.js';
import type { StdinSource } from './shell.js';
import type { Finding, ReadFile, Verdict } from './types.js';

/** A resolved command: the real tool after wrappers, runners and scripts are seen through. */
export interface Invocation {
  /** Canonical tool name (`prisma`, `psql`, `docker-compose`, ...). */
  tool: string;
  args: string[];
  cwd: string;
  stdin: StdinSource[];
}

export interface InspectContext {
  /** Findings for SQL that arrives as text, from files, or from a command we cannot see into. */
  sql(sources: StdinSource[], client: string): Finding[];
  /** Reads project files (compose files) by absolute path. */
  readFile: ReadFile;
}

type Sub = ReadonlyArray<string | readonly string[]>;

/** First matching rule of a tool wins, so the more specific rules come first. */
export type ToolRule = {
  rule: string;
  tools: readonly string[];
  sub?: Sub;
  anyFlag?: readonly string[];
  noFlag?: readonly string[];
} & ({ verdict: Verdict; message: string } | { inspect: (inv: Invocation, ctx: InspectContext) => Finding[] });

const TYPEORM = ['typeorm', 'typeorm-ts-node-commonjs', 'typeorm-ts-node-esm'];
const DRIZZLE_PUSH = ['push', 'push:pg', 'push:mysql', 'push:sqlite'];

export const TOOL_RULES: readonly ToolRule[] = [
  // Prisma
  { rule: 'prisma-migrate-reset', tools: ['prisma'], sub: ['migrate', 'reset'], verdict: 'block', message: 'drops the database and re-applies every migration: all rows are deleted' },
  { rule: 'prisma-db-push-force-reset', tools: ['prisma'], sub: ['db', 'push'], anyFlag: ['--force-reset'], verdict: 'block', message: 'resets the database before pushing the schema: all rows are deleted' },
  { rule: 'prisma-db-push-accept-data-loss', tools: ['prisma'], sub: ['db', 'push'], anyFlag: ['--accept-data-loss'], verdict: 'block', message: 'pushes schema changes that drop columns or tables, without asking' },
  { rule: 'prisma-db-push', tools: ['prisma'], sub: ['db', 'push'], verdict: 'backup', message: 'changes the database schema' },
  { rule: 'prisma-db-execute', tools: ['prisma'], sub: ['db', 'execute'], inspect: prismaDbExecute },
  { rule: 'prisma-migrate-dev', tools: ['prisma'], sub: ['migrate', 'dev'], noFlag: ['--create-only'], verdict: 'backup', message: 'applies migrations to the database (and may offer to reset it)' },
  { rule: 'prisma-migrate-deploy', tools: ['prisma'], sub: ['migrate', 'deploy'], verdict: 'backup', message: 'applies pending migrations to the database' },
  // Drizzle
  { rule: 'drizzle-kit-push-force', tools: ['drizzle-kit'], sub: [DRIZZLE_PUSH], anyFlag: ['--force'], verdict: 'block', message: 'pushes the schema and accepts data loss without asking' },
  { rule: 'drizzle-kit-push', tools: ['drizzle-kit'], sub: [DRIZZLE_PUSH], verdict: 'backup', message: 'pushes schema changes to the database' },
  { rule: 'drizzle-kit-migrate', tools: ['drizzle-kit'], sub: ['migrate'], verdict: 'backup', message: 'applies migrations to the database' },
  // TypeORM
  { rule: 'typeorm-schema-drop', tools: TYPEORM, sub: ['schema:drop'], verdict: 'block', message: 'drops every table in the database' },
  { rule: 'typeorm-schema-sync', tools: TYPEORM, sub: ['schema:sync'], verdict: 'backup', message: 'synchronizes the schema with the entities (columns missing from them are dropped)' },
  { rule: 'typeorm-migration-run', tools: TYPEORM, sub: [['migration:run', 'migration:revert']], verdict: 'backup', message: 'runs migrations against the database' },
  // Sequelize
  { rule: 'sequelize-db-drop', tools: ['sequelize'], sub: ['db:drop'], verdict: 'block', message: 'drops the database' },
  { rule: 'sequelize-undo-all', tools: ['sequelize'], sub: ['db:migrate:undo:all'], verdict: 'block', message: 'reverts every migration, dropping what they created' },
  { rule: 'sequelize-migrate', tools: ['sequelize'], sub: [['db:migrate', 'db:migrate:undo', 'db:seed:undo', 'db:seed:undo:all']], verdict: 'backup', message: 'changes the database schema or data' },
  // Knex
  { rule: 'knex-rollback-all', tools: ['knex'], sub: ['migrate:rollback'], anyFlag: ['--all'], verdict: 'block', message: 'rolls back every migration batch, dropping what they created' },
  { rule: 'knex-migrate', tools: ['knex'], sub: [['migrate:latest', 'migrate:up', 'migrate:down', 'migrate:rollback', 'seed:run']], verdict: 'backup', message: 'changes the database schema or data' },
  // node-pg-migrate
  { rule: 'node-pg-migrate-down', tools: ['node-pg-migrate'], sub: [['down', 'redo']], verdict: 'block', message: 'runs down migrations, which drop tables and columns' },
  { rule: 'node-pg-migrate-up', tools: ['node-pg-migrate'], sub: ['up'], verdict: 'backup', message: 'applies migrations to the database' },
  // Supabase
  { rule: 'supabase-db-reset', tools: ['supabase'], sub: ['db', 'reset'], verdict: 'block', message: 'recreates the database: all rows are deleted' },
  { rule: 'supabase-stop-no-backup', tools: ['supabase'], sub: ['stop'], anyFlag: ['--no-backup'], verdict: 'block', message: 'stops the local stack and deletes its data volumes' },
  { rule: 'supabase-migration-down', tools: ['supabase'], sub: ['migration', 'down'], verdict: 'block', message: 'reverts migrations and resets the local database' },
  { rule: 'supabase-db-push', tools: ['supabase'], sub: [['db', 'migration'], ['push', 'up']], verdict: 'backup', message: 'applies migrations to the database' },
  // Database clients and tools
  { rule: 'dropdb', tools: ['dropdb'], verdict: 'block', message: 'drops a whole PostgreSQL database' },
  { rule: 'mysqladmin-drop', tools: ['mysqladmin'], sub: ['drop'], verdict: 'block', message: 'drops a whole MySQL database' },
  { rule: 'supabase-projects-delete', tools: ['supabase'], sub: ['projects', 'delete'], verdict: 'block', message: 'deletes a Supabase project and its database' },
  { rule: 'typeorm-query', tools: TYPEORM, sub: ['query'], inspect: typeormQuery },
  // MikroORM
  { rule: 'mikro-orm-schema-drop', tools: ['mikro-orm'], sub: [['schema:drop', 'schema:fresh']], anyFlag: ['--run', '-r'], verdict: 'block', message: 'drops the database schema and its data' },
  { rule: 'mikro-orm-migration-fresh', tools: ['mikro-orm'], sub: ['migration:fresh'], verdict: 'block', message: 'drops the database and runs every migration again: all rows are deleted' },
  { rule: 'mikro-orm-migration-down', tools: ['mikro-orm'], sub: ['migration:down'], verdict: 'block', message: 'runs down migrations, which drop tables and columns' },
  { rule: 'mikro-orm-schema-update', tools: ['mikro-orm'], sub: [['schema:update', 'schema:create']], anyFlag: ['--run', '-r'], verdict: 'backup', message: 'changes the database schema' },
  { rule: 'mikro-orm-migration-up', tools: ['mikro-orm'], sub: ['migration:up'], verdict: 'backup', message: 'applies migrations to the database' },
  { rule: 'pg-restore', tools: ['pg_restore'], inspect: pgRestore },
  { rule: 'psql', tools: ['psql'], inspect: psql },
  { rule: 'sqlite3', tools: ['sqlite3'], inspect: sqlite3 },
  { rule: 'mysql', tools: ['mysql'], inspect: mysql },
  // Files and containers
  { rule: 'rm-database-file', tools: ['rm'], inspect: removeFiles },
  { rule: 'truncate-database-file', tools: ['truncate'], inspect: truncateFiles },
  { rule: 'copy-over-database-file', tools: ['cp', 'mv', 'install', 'rsync'], inspect: copyOverFiles },
  { rule: 'docker-compose-rm-volumes', tools: ['docker-compose'], sub: ['rm'], anyFlag: ['-v', '--volumes'], inspect: composeRemovesVolumes },
  { rule: 'docker-rm-volumes', tools: ['docker'], sub: [['rm', 'container']], anyFlag: ['-v', '--volumes'], inspect: dockerRmVolumes },
  { rule: 'find-delete-database-file', tools: ['find'], inspect: findDelete },
  { rule: 'docker-compose-down-volumes', tools: ['docker-compose'], sub: ['down'], anyFlag: ['-v', '--volumes'], inspect: composeRemovesVolumes },
  { rule: 'docker-volume-prune', tools: ['docker'], sub: [['volume', 'system'], 'prune'], inspect: dockerPrune },
  { rule: 'docker-volume-rm', tools: ['docker'], sub: ['volume', ['rm', 'remove']], inspect: dockerVolumeRm },
];

/** Command names that reach a canonical tool. */
export const TOOL_ALIASES: Record<string, string> = {
  'sequelize-cli': 'sequelize',
  mariadb: 'mysql',
  'mariadb-admin': 'mysqladmin',
  unlink: 'rm',
  rimraf: 'rm',
  del: 'rm',
  trash: 'rm',
};

/** npm package names whose binary has another name. */
export const PACKAGE_BINS: Record<string, string> = {
  'sequelize-cli': 'sequelize',
  '@mikro-orm/cli': 'mikro-orm',
  'dotenv-cli': 'dotenv',
  'del-cli': 'del',
  '@dotenvx/dotenvx': 'dotenvx',
};

export const GUARDED_TOOLS: ReadonlySet<string> = new Set(TOOL_RULES.flatMap((r) => r.tools));

export function canonicalTool(command: string): string {
  const name = path.basename(command);
  return TOOL_ALIASES[name] ?? name;
}

/** The findings for one resolved command: the first rule of its tool that matches. */
export function evaluate(inv: Invocation, ctx: InspectContext): Finding[] {
  if (inv.args.includes('--help') || inv.args.includes('--version')) return [];
  for (const rule of TOOL_RULES) {
    if (!rule.tools.includes(inv.tool)) continue;
    if (rule.sub && !matchesSubcommand(inv.args, rule.sub)) continue;
    if (rule.anyFlag && !rule.anyFlag.some((f) => hasFlag(inv.args, f))) continue;
    if (rule.noFlag?.some((f) => hasFlag(inv.args, f))) continue;
    if ('inspect' in rule) return rule.inspect(inv, ctx).map((f) => ({ ...f, rule: f.rule || rule.rule }));
    return [{ rule: rule.rule, verdict: rule.verdict, message: rule.message }];
  }
  return [];
}

function files(paths: string[], cwd: string): StdinSource[] {
  return paths.map((p) => (p === '-' ? { kind: 'opaque', command: 'standard input' } : { kind: 'file', path: path.resolve(cwd, p) }));
}

function prismaDbExecute(inv: Invocation, ctx: InspectContext): Finding[] {
  const parsed = parseArgs(inv.args, { withValue: ['--file', '--schema', '--url', '--config'] });
  const sources = hasOption(parsed, '--stdin') ? inv.stdin : files(optionValues(parsed, '--file'), inv.cwd);
  if (sources.length === 0) return [{ rule: 'prisma-db-execute', verdict: 'backup', message: 'runs SQL that cannot be seen from the command line' }];
  return ctx.sql(sources, 'prisma db execute');
}

const PSQL_VALUES = ['-c', '--command', '-d', '--dbname', '-f', '--file', '-F', '--field-separator', '-h', '--host', '-L', '--log-file', '-o', '--output', '-p', '--port', '-P', '--pset', '-R', '--record-separator', '-T', '--table-attr', '-U', '--username', '-v', '--set', '--variable'];

function psql(inv: Invocation, ctx: InspectContext): Finding[] {
  const parsed = parseArgs(inv.args, { withValue: PSQL_VALUES });
  if (hasOption(parsed, '-l', '--list')) return [];
  const sources: StdinSource[] = [];
  for (const { name, value } of parsed.options) {
    if (value === undefined) continue;
    if (name === '-c' || name === '--command') sources.push({ kind: 'text', text: value });
    if (name === '-f' || name === '--file') sources.push(...(value === '-' ? inv.stdin : files([value], inv.cwd)));
  }
  return ctx.sql(withIncludes(sources.length > 0 ? sources : inv.stdin, inv.cwd), 'psql');
}

const SQLITE_VALUES = ['-cmd', '-init', '-separator', '-nullvalue', '-newline', '-mmap', '-vfs', '-maxsize', '-pagecache', '-lookaside', '-heap'];

function sqlite3(inv: Invocation, ctx: InspectContext): Finding[] {
  const parsed = parseArgs(inv.args, { withValue: SQLITE_VALUES, singleDashLong: true });
  if (hasOption(parsed, '-readonly')) return [];
  const statements = [...optionValues(parsed, '-cmd'), ...parsed.positionals.slice(1)];
  const sources: StdinSource[] = [...files(optionValues(parsed, '-init'), inv.cwd)];
  const input: StdinSource[] = statements.length > 0 ? statements.map((text) => ({ kind: 'text', text })) : inv.stdin;
  return ctx.sql(withIncludes([...sources, ...input], inv.cwd), 'sqlite3');
}

/** Client commands that run SQL from a file: sqlite3 `.read`, psql `\i` and `\include`, mysql `source x.sql` and `\. x.sql`. */
const INCLUDE = /^\s*(?:(\.read|\\ir|\\i|\\include_relative|\\include|\\\.)\s+(?:'([^']*)'|"([^"]*)"|([^\s;]+))|source\s+(\S+\.sql))\s*;?\s*$/gim;

function withIncludes(sources: StdinSource[], cwd: string): StdinSource[] {
  return sources.flatMap((source) => (source.kind === 'text' ? [source, ...includedFiles(source.text, cwd)] : [source]));
}

/** The files a script includes, relative to `dir` (the working folder for the command line, the file's folder for a file). */
export function includedFiles(text: string, cwd: string, fileDir = cwd): StdinSource[] {
  return [...text.matchAll(INCLUDE)].flatMap((m) => files([m[2] ?? m[3] ?? m[4] ?? m[5] ?? ''], /^\\(ir|include_relative)$/.test(m[1] ?? '') ? fileDir : cwd));
}

const MYSQL_VALUES = ['-e', '--execute', '-u', '--user', '-h', '--host', '-P', '--port', '-D', '--database', '-S', '--socket', '--default-character-set', '--login-path'];

function mysql(inv: Invocation, ctx: InspectContext): Finding[] {
  const parsed = parseArgs(inv.args, { withValue: MYSQL_VALUES, attachedOnly: ['-p'] });
  const statements = optionValues(parsed, '-e', '--execute');
  return ctx.sql(withIncludes(statements.length > 0 ? statements.map((text) => ({ kind: 'text', text })) : inv.stdin, inv.cwd), 'mysql');
}

const PG_RESTORE_VALUES = ['-d', '--dbname', '-f', '--file', '-F', '--format', '-h', '--host', '-p', '--port', '-U', '--username', '-j', '--jobs', '-n', '--schema', '-N', '--exclude-schema', '-t', '--table', '-T', '--trigger', '-I', '--index', '-P', '--function', '-L', '--use-list', '-S', '--superuser', '--role'];

function pgRestore(inv: Invocation): Finding[] {
  const parsed = parseArgs(inv.args, { withValue: PG_RESTORE_VALUES });
  if (optionValues(parsed, '-d', '--dbname').length === 0) return [];
  if (hasOption(parsed, '-c', '--clean')) {
    return [{ rule: 'pg-restore-clean', verdict: 'block', message: 'drops the existing objects of a live database before restoring into it' }];
  }
  return [{ rule: 'pg-restore', verdict: 'backup', message: 'restores into a live database' }];
}

const SQLITE_FILE = /\.(db|sqlite|sqlite3|db3|s3db|sl3)(-wal|-shm|-journal)?$/i;
/** Windows' thumbnail caches end in .db but hold no one's data. */
const NOT_A_DATABASE = /(^|\/)(ehthumbs|thumbs)(_vista)?\.db$/i;
/** A folder that holds a database server's files: `pgdata`, `postgres-data`, `db_data`, ... */
const DATA_DIRECTORY = /^(pg_?data|(postgres(ql)?|mysql|mariadb|mongo(db)?|db|database)[-_]?data)$/i;
/** Installed servers' data folders: `/var/lib/postgresql`, `/var/lib/mysql`, Homebrew's `var/postgresql@16`, `var/mysql`. */
const SERVER_DIRECTORY = /(^|\/)var\/(lib\/)?(postgres(ql)?(@[\d.]+)?|mysql|mariadb|mongodb)(\/|$)/i;

const GLOB = /[*?[]/;
/** What a wildcard may stand for when we ask whether a pattern can name a database file: never an extension itself. */
const STAR_PROBES = ['', 'a', '3', '-wal', 'wal', 'shm', '-journal', 'journal'];
const QUESTION_PROBES = ['a', '3'];

/**
 * Whether a path, or a glob (`data/*.db*`, `dev.sqlite?`), can name a SQLite database file. A wildcard is tried with
 * a few short stand-ins, so `*.db*` matches `a.db` and `a.db-wal`, while `dist/*` (which could hold anything) does not.
 */
export function mayNameDatabaseFile(target: string): boolean {
  const name = target.replace(/\/+$/, '');
  if (NOT_A_DATABASE.test(name)) return false;
  if (!GLOB.test(name)) return SQLITE_FILE.test(name);
  const parts = name.split(/(\*+|\?|\[[^\]]*\])/).filter((p) => p !== '');
  let probes = [''];
  for (const part of parts) {
    const options = part.startsWith('*') ? STAR_PROBES : part === '?' ? QUESTION_PROBES : part.startsWith('[') ? [classProbe(part)] : [part];
    probes = probes.flatMap((p) => options.map((o) => p + o));
    if (probes.length > 2000) return true; // a pattern this wild is treated as able to match anything
  }
  return probes.some((p) => SQLITE_FILE.test(p));
}

/** `[0-9]` -> `0`, `[!x]` -> `3` (a character the class may take; `3` keeps `sqlite[0-9]` honest). */
function classProbe(part: string): string {
  const body = part.slice(1, -1);
  if (body.startsWith('!') || body.startsWith('^')) return body.includes('3') ? 'a' : '3';
  return body.includes('3') || /0-9/.test(body) ? '3' : (body[0] ?? 'a');
}

/** Words of a `$(find ...)` argument, or of what `find ... | xargs rm` reads: file patterns that decide what is deleted. */
function computedTargets(inv: Invocation, targets: string[]): string[] {
  const texts = [...targets.filter((t) => /\$\(|`/.test(t)), ...inv.stdin.flatMap((s) => (s.kind === 'opaque' ? [s.command] : s.kind === 'text' ? [s.text] : []))];
  return texts.flatMap((t) => t.split(/[\s()`$]+/)).map((w) => w.replace(/^['"]|['"]$/g, '')).filter((w) => w !== '');
}

/** Deleting a data folder, or anything in it recursively; `rm pgdata/postmaster.pid` (one file) is not. */
function deletesDataDirectory(target: string, recursive: boolean): boolean {
  const segments = target.replace(/\/+$/, '').split('/');
  const at = segments.findIndex((segment) => DATA_DIRECTORY.test(segment));
  if (at >= 0 && (at === segments.length - 1 || recursive || GLOB.test(segments.slice(at + 1).join('/')))) return true;
  return SERVER_DIRECTORY.test(target) && (recursive || GLOB.test(target));
}

/** A bind-mounted data folder of the Compose project, deleted with everything in it or through a glob inside it. */
function deletesBindMount(target: string, recursive: boolean, mounts: string[], cwd: string): boolean {
  const glob = GLOB.test(target);
  const base = path.resolve(cwd, glob ? target.slice(0, target.search(GLOB)).replace(/[^/]*$/, '') || '.' : target);
  return mounts.some((mount) => (glob ? base === mount || base.startsWith(`${mount}/`) || (recursive && mount.startsWith(`${base}/`)) : recursive && (base === mount || mount.startsWith(`${base}/`))));
}

function removeFiles(inv: Invocation, ctx: InspectContext): Finding[] {
  const parsed = parseArgs(inv.args);
  const targets = parsed.positionals;
  const recursive = hasOption(parsed, '-r', '-R', '--recursive');
  const databases = [...targets, ...computedTargets(inv, targets)].filter(mayNameDatabaseFile);
  const mounts = recursive || targets.some((t) => GLOB.test(t)) ? composeData(inv.cwd, ctx.readFile)?.bindMounts ?? [] : [];
  const directories = targets.filter((t) => deletesDataDirectory(t, recursive) || deletesBindMount(t, recursive, mounts, inv.cwd));
  const found: Finding[] = [];
  if (databases.length > 0) found.push({ rule: 'rm-sqlite-database', verdict: 'block', message: `deletes SQLite database files: ${databases.join(', ')}` });
  if (directories.length > 0) found.push({ rule: 'rm-database-directory', verdict: 'block', message: `deletes a database data directory: ${directories.join(', ')}` });
  return found;
}

/** `find . -name '*.db' -delete`, `find . -name '*.sqlite' -exec rm {} +`. */
function findDelete(inv: Invocation): Finding[] {
  const deletes = inv.args.includes('-delete') || inv.args.some((a, i) => (a === '-exec' || a === '-execdir') && canonicalTool(inv.args[i + 1] ?? '') === 'rm');
  const patterns = inv.args.filter((a, i) => !a.startsWith('-') && !['!', '-not'].includes(inv.args[i - 2] ?? '') && mayNameDatabaseFile(a));
  return deletes && patterns.length > 0 ? [{ rule: 'find-delete-database-file', verdict: 'block', message: `deletes SQLite database files matching ${patterns.join(', ')}` }] : [];
}

/** A volume or container name made of words (`app_pgdata`, `db-data`, `mysql`), one of which names a database. */
const DATABASE_WORD = /^(postgres(ql)?|pg|pgdata|mysql|mariadb|maria|mongo(db)?|db|database|sql|sqlite|timescale(db)?|supabase|redis)$/i;

function looksLikeDatabase(name: string): boolean {
  return name.split(/[-_.\/:]+|(?<=[a-z])(?=[A-Z])/).some((word) => DATABASE_WORD.test(word) || DATA_DIRECTORY.test(word));
}

const COMPOSE_GLOBALS = ['-f', '--file', '-p', '--project-name', '--project-directory', '--env-file', '--profile', '--ansi', '--progress', '--parallel'];

/**
 * `docker compose down -v` removes the project's named and anonymous volumes, `docker compose rm -v` its anonymous
 * ones; neither touches bind mounts. Read from the compose file when it can be read; otherwise assumed destructive.
 */
function composeRemovesVolumes(inv: Invocation, ctx: InspectContext): Finding[] {
  const down = matchesSubcommand(inv.args, ['down']);
  const rule = down ? 'docker-compose-down-volumes' : 'docker-compose-rm-volumes';
  // Compose's own options (`-f file`) come before the subcommand; after it, `-f` is rm's --force.
  const sub = inv.args.findIndex((a, i) => !a.startsWith('-') && !(COMPOSE_GLOBALS.includes(inv.args[i - 1] ?? '') && !inv.args[i - 1]!.includes('=')));
  const parsed = parseArgs(sub < 0 ? inv.args : inv.args.slice(0, sub), { withValue: COMPOSE_GLOBALS });
  const projectDir = optionValues(parsed, '--project-directory')[0];
  const data = composeData(projectDir ? path.resolve(inv.cwd, projectDir) : inv.cwd, ctx.readFile, optionValues(parsed, '-f', '--file'), optionValues(parsed, '-p', '--project-name')[0]);
  if (!data) return [{ rule, verdict: 'block', message: down ? 'removes the volumes that hold the database data' : 'removes the containers with their anonymous volumes, where a database service keeps its data' }];
  const lost = [...(down ? data.volumes.map((v) => v.name) : []), ...data.anonymous.map((s) => `${s}'s anonymous volume`)];
  if (lost.length > 0) return [{ rule, verdict: 'block', message: `removes volumes that hold database data: ${lost.join(', ')}` }];
  if (down && data.otherVolumes.length > 0) return [{ rule, verdict: 'backup', message: `removes named volumes (${data.otherVolumes.join(', ')}); none is a recognised database's data folder` }];
  return [];
}

function dockerVolumeRm(inv: Invocation, ctx: InspectContext): Finding[] {
  const positionals = parseArgs(inv.args).positionals;
  const given = positionals.slice(positionals.indexOf('volume') + 2);
  const computed = given.filter((n) => /\$\(|`/.test(n));
  if (computed.length > 0 || given.length === 0) {
    return [{ rule: 'docker-volume-rm', verdict: 'block', message: 'removes Docker volumes whose names are only known when the command runs, which may hold database data' }];
  }
  const compose = new Set(composeData(inv.cwd, ctx.readFile)?.volumes.map((v) => v.name) ?? []);
  const names = given.filter((name) => looksLikeDatabase(name) || compose.has(name));
  return names.length > 0 ? [{ rule: 'docker-volume-rm', verdict: 'block', message: `removes Docker volumes that hold, or look like, database storage: ${names.join(', ')}` }] : [];
}

function dockerRmVolumes(inv: Invocation): Finding[] {
  // `docker rm` takes no option with a value: `-f` is --force (`docker rm -v -f postgres`).
  const positionals = parseArgs(inv.args).positionals.filter((p) => p !== 'rm' && p !== 'container');
  const names = positionals.filter((n) => looksLikeDatabase(n) || /\$\(|`/.test(n));
  return names.length > 0 ? [{ rule: 'docker-rm-volumes', verdict: 'block', message: `removes containers with their anonymous volumes, where a database keeps its data: ${names.join(', ')}` }] : [];
}

function truncateFiles(inv: Invocation): Finding[] {
  const names = parseArgs(inv.args, { withValue: ['-s', '--size', '-r', '--reference'] }).positionals.filter(mayNameDatabaseFile);
  return names.length > 0 ? [{ rule: 'truncate-database-file', verdict: 'block', message: `cuts SQLite database files: ${names.join(', ')}` }] : [];
}

const CP_VALUES = ['-t', '--target-directory', '-S', '--suffix'];
const CP_KEEPS = ['-t', '--target-directory', '-n', '--no-clobber', '-b', '--backup'];
const RSYNC_VALUES = ['-e', '--rsh', '-f', '--filter', '--exclude', '--include', '--exclude-from', '--include-from', '--files-from', '-T', '--temp-dir', '--backup-dir', '--suffix', '-B', '--block-size', '--chmod', '--chown', '--usermap', '--groupmap', '--log-file', '--log-file-format', '--out-format', '-M', '--remote-option', '--compare-dest', '--copy-dest', '--link-dest', '--partial-dir', '--timeout', '--contimeout', '--port', '--address', '--password-file', '--bwlimit', '--max-size', '--min-size', '--max-delete', '--modify-window', '--info', '--debug', '--iconv', '--skip-compress', '--rsync-path', '--sockopts', '--outbuf', '--protocol', '--checksum-choice', '--compress-choice', '--compress-level', '--checksum-seed', '--write-batch', '--only-write-batch', '--read-batch', '--stop-after', '--stop-at'];

/**
 * Per tool: the options that take a value, and those that leave an existing destination alone (`-t dir` names a
 * folder, whose files are not known). rsync's short options are flags (`-t` keeps times, `-o` the owner: `-avt`).
 */
const COPY_OPTIONS: Record<string, { withValue: string[]; keeps: string[] }> = {
  cp: { withValue: CP_VALUES, keeps: CP_KEEPS },
  mv: { withValue: CP_VALUES, keeps: CP_KEEPS },
  install: { withValue: [...CP_VALUES, '-m', '--mode', '-o', '--owner', '-g', '--group'], keeps: CP_KEEPS },
  rsync: { withValue: RSYNC_VALUES, keeps: ['-n', '--dry-run', '-b', '--backup', '--ignore-existing', '--list-only'] },
};

/** `cp backup.db dev.db`, `mv new.db dev.db`: the destination's data is replaced. */
function copyOverFiles(inv: Invocation): Finding[] {
  const { withValue, keeps } = COPY_OPTIONS[inv.tool] ?? COPY_OPTIONS.cp!;
  const parsed = parseArgs(inv.args, { withValue });
  if (hasOption(parsed, ...keeps)) return [];
  const destination = parsed.positionals.length >= 2 ? parsed.positionals.at(-1)! : undefined;
  return destination && mayNameDatabaseFile(destination) && !GLOB.test(destination)
    ? [{ rule: 'copy-over-database-file', verdict: 'block', message: `replaces the SQLite database file ${destination} (if it exists) with another file` }]
    : [];
}

function typeormQuery(inv: Invocation, ctx: InspectContext): Finding[] {
  const positionals = parseArgs(inv.args, { withValue: ['-d', '--dataSource', '--connection', '-c'] }).positionals;
  const sql = positionals.slice(positionals.indexOf('query') + 1).join(' ');
  return sql.trim() === '' ? [] : ctx.sql([{ kind: 'text', text: sql }], 'typeorm query');
}

function dockerPrune(inv: Invocation): Finding[] {
  const volumes = inv.args[0] === 'volume' || hasFlag(inv.args, '--volumes');
  return volumes ? [{ rule: 'docker-volume-prune', verdict: 'block', message: 'removes unused Docker volumes, which may hold database data' }] : [];
}
