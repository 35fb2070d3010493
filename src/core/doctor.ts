import { execFile } from 'node:child_process';
import { constants, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { DbguardConfig } from '../config/config-file.js';
import { engineName } from '../config/database-url.js';
import { type NamedDatabase, resolveDatabases, withDotenv } from '../config/databases.js';
import { describeRemote, type RemoteSettings, resolveRemote } from '../config/remote.js';
import { engineFor } from '../engines/index.js';
import { type MysqlToolRole, mysqlTool } from '../engines/mysql-tools.js';
import { type PgTool, pgToolPath, pgToolVersion } from '../engines/pg-tools.js';
import { openSqlite } from '../engines/sqlite-driver.js';
import { type Channel, resolveChannels } from '../notify/index.js';
import { loadZstdModule } from '../pipeline/compression.js';
import { ALLOW_SCRIPTS_HINT, type NativeModule, NATIVE_MODULES, nativeFixCommand, nativeProblem, SUPPORTED_NODE_MAJORS, unsupportedNodeMessage } from '../platform.js';
import { LocalBackupStore } from '../storage/local-store.js';
import { S3BackupStore } from '../storage/s3-store.js';
import prettyBytes from 'pretty-bytes';

/** ok; warning: works, but something is missing or risky; problem: something dbguard needs here is missing. */
export type CheckStatus = 'ok' | 'warning' | 'problem';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warning or a problem. */
  fix?: string;
}

export interface DoctorReport {
  /** No problem (warnings allowed). */
  ok: boolean;
  checks: DoctorCheck[];
}

export interface DoctorOptions {
  config: DbguardConfig;
  env: Record<string, string | undefined>;
  cwd: string;
  /** The backups folder. */
  dir: string;
  /** Per network check (TCP connect to a notification channel). */
  timeoutMs?: number;
}

/** Checks the environment dbguard runs in; never throws: every failure is a check with its fix. */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const env = withDotenv(options.env, options.cwd);
  let databases: NamedDatabase[] = [];
  const configChecks: DoctorCheck[] = [];
  try {
    databases = resolveDatabases({ config: options.config, env: options.env, cwd: options.cwd });
  } catch (error) {
    configChecks.push(problem('databases', message(error), hintOf(error) ?? 'Set DATABASE_URL, or "databases" in dbguard.config.json.'));
  }
  const probes = await Promise.all(databases.map((d) => probeDatabase(d)));
  const groups = await Promise.all([
    [nodeCheck(process.version)],
    Promise.all([sqliteDriverCheck(), zstdDriverCheck(), guardParsersCheck()]),
    probes.map((p) => p.check),
    pgToolChecks(probes),
    mysqlToolChecks(probes),
    Promise.all([optionalTool('sqlite3', 'to open SQLite backups by hand'), optionalTool('age', 'to decrypt backups by hand'), optionalTool('zstd', 'to decompress backups by hand')]),
    backupFolderChecks(options.dir),
    remoteChecks(options.config, env, databases, options.dir),
    channelChecks(options.config, env, options.timeoutMs ?? 5000),
  ]);
  const checks = [...configChecks, ...groups.flat()];
  return { ok: checks.every((c) => c.status !== 'problem'), checks };
}

function nodeCheck(version: string): DoctorCheck {
  const unsupported = unsupportedNodeMessage(version);
  return unsupported
    ? warning('node', `Node.js ${version}: not one dbguard is tested on`, `Use Node.js ${SUPPORTED_NODE_MAJORS.join(', ')}.`)
    : ok('node', `Node.js ${version}`);
}

async function sqliteDriverCheck(): Promise<DoctorCheck> {
  try {
    openSqlite(':memory:').close();
    return ok('better-sqlite3', `native module loads (${NATIVE_MODULES['better-sqlite3']})`);
  } catch (error) {
    return nativeCheck('better-sqlite3', (error as { cause?: unknown }).cause ?? error);
  }
}

async function zstdDriverCheck(): Promise<DoctorCheck> {
  const loaded = await loadZstdModule();
  return 'zstd' in loaded ? ok('zstd-napi', `native module loads (${NATIVE_MODULES['zstd-napi']})`) : nativeCheck('zstd-napi', loaded.error);
}

function nativeCheck(name: NativeModule, error: unknown): DoctorCheck {
  return problem(name, `${NATIVE_MODULES[name]} is unavailable: the native module ${nativeProblem(error)}`, `${nativeFixCommand(name)}. ${ALLOW_SCRIPTS_HINT}`);
}

/** The guard's parsers are WebAssembly: they need no build, but a broken install would leave the guard blind. */
async function guardParsersCheck(): Promise<DoctorCheck> {
  try {
    const [{ loadShellParser }, { loadSqlParser }] = await Promise.all([import('../guard/shell.js'), import('../guard/sql.js')]);
    await Promise.all([loadShellParser(), loadSqlParser()]);
    return ok('guard parsers', 'shell and SQL parsers (WebAssembly) load');
  } catch (error) {
    return problem('guard parsers', `the guard's parsers do not load: ${message(error)}`, 'Reinstall dbguard (npm ci, or npm install dbguard).');
  }
}

interface DatabaseProbe {
  database: NamedDatabase;
  serverVersion: string | undefined;
  check: DoctorCheck;
}

async function probeDatabase(database: NamedDatabase): Promise<DatabaseProbe> {
  const name = `database ${database.name}`;
  try {
    const { serverVersion } = await engineFor(database.target).probe();
    return { database, serverVersion, check: ok(name, `${engineName(database.target.engine)} ${serverVersion} answers`) };
  } catch (error) {
    return { database, serverVersion: undefined, check: problem(name, message(error), hintOf(error)) };
  }
}

/** The client tools must be there, and no older than the newest server they dump (pg_dump refuses an older one). */
async function pgToolChecks(probes: DatabaseProbe[]): Promise<DoctorCheck[]> {
  const postgres = probes.filter((p) => p.database.target.engine === 'postgres');
  const needed = postgres.length > 0;
  const newest = Math.max(0, ...postgres.map((p) => Number(p.serverVersion?.split('.')[0] ?? 0)));
  const tools: PgTool[] = ['pg_dump', 'pg_restore', 'psql'];
  return Promise.all(
    tools.map(async (tool) => {
      try {
        const { major, full } = await pgToolVersion(tool);
        if (major < newest) {
          return problem(tool, `${tool} ${full} is older than the PostgreSQL ${newest} server it must work with`, `Install the client tools of PostgreSQL ${newest} or newer and put them first on PATH (or set DBGUARD_PG_BINDIR).`);
        }
        return ok(tool, `${tool} ${full}${newest > 0 ? ` (server ${newest})` : ''}`);
      } catch (error) {
        const detail = `${pgToolPath(tool)} not found or not runnable${needed ? '' : ' (needed only for PostgreSQL)'}`;
        const fix = hintOf(error) ?? message(error);
        return needed ? problem(tool, detail, fix) : warning(tool, detail, fix);
      }
    }),
  );
}

const MYSQL_TOOLS: Record<MysqlToolRole, string> = { dump: 'mariadb-dump/mysqldump', client: 'mariadb/mysql' };

/** MariaDB's or MySQL's dump tool and client: a problem when a MySQL/MariaDB database needs them, else shown if there. */
async function mysqlToolChecks(probes: DatabaseProbe[]): Promise<DoctorCheck[]> {
  const needed = probes.some((p) => p.database.target.engine === 'mysql');
  const checks = await Promise.all(
    (Object.keys(MYSQL_TOOLS) as MysqlToolRole[]).map(async (role) => {
      try {
        const tool = await mysqlTool(role);
        return ok(MYSQL_TOOLS[role], `${tool.name} ${(await commandVersion(tool.path)) ?? ''}`.trim());
      } catch (error) {
        return needed ? problem(MYSQL_TOOLS[role], message(error), hintOf(error)) : undefined;
      }
    }),
  );
  return checks.filter((check) => check !== undefined);
}

/** The version a command prints for `--version`, or undefined when it does not run. */
function commandVersion(command: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, ['--version'], { timeout: 10_000 }, (error, stdout) => resolve(error ? undefined : (/\d+\.\d+(\.\d+)?/.exec(stdout)?.[0] ?? stdout.trim())));
  });
}

async function optionalTool(command: string, why: string): Promise<DoctorCheck> {
  const version = await commandVersion(command);
  return version === undefined
    ? warning(command, `${command} not found on PATH (optional: ${why})`, `Install it (Debian/Ubuntu: apt-get install ${command}; macOS: brew install ${command}).`)
    : ok(command, `${command} ${version}`);
}

/** Below this much free space a warning; below the size of the largest recent backup, a problem. */
const LOW_SPACE_BYTES = 1 << 30;

/** Whether `free` bytes leave room for the next backup, judged by the largest of the newest backups. */
export function spaceVerdict(free: number, largestRecent: number): CheckStatus {
  if (free < largestRecent) return 'problem';
  return free < Math.max(LOW_SPACE_BYTES, 2 * largestRecent) ? 'warning' : 'ok';
}

async function backupFolderChecks(dir: string): Promise<DoctorCheck[]> {
  const stat = await fs.stat(dir).catch(() => undefined);
  const existing = stat ? dir : await nearestExisting(dir);
  const checks: DoctorCheck[] = [];
  try {
    await fs.access(existing, constants.W_OK | constants.X_OK);
    if (!stat) checks.push(ok('backups folder', `${dir} does not exist yet; the first backup creates it`));
    else if (!stat.isDirectory()) checks.push(problem('backups folder', `${dir} is not a folder`, 'Point --dir or backupDir in dbguard.config.json at a folder.'));
    else if ((stat.mode & 0o077) !== 0) {
      checks.push(warning('backups folder', `${dir} is open to other users (mode ${(stat.mode & 0o777).toString(8)}); backups hold your data`, `chmod 700 ${dir}`));
    } else checks.push(ok('backups folder', `${dir} is writable and private`));
  } catch {
    checks.push(problem('backups folder', `${existing} is not writable by this user${stat ? '' : `, so ${dir} cannot be created`}`, `Give this user write access to it (chown/chmod), or point --dir or backupDir in dbguard.config.json elsewhere.`));
  }
  const space = await fs.statfs(existing).catch(() => undefined);
  if (space) {
    const free = space.bavail * space.bsize;
    const recent = stat?.isDirectory() ? (await new LocalBackupStore(dir).list().catch(() => ({ backups: [] }))).backups.slice(0, 10) : [];
    const largest = Math.max(0, ...recent.map((b) => b.manifest.size));
    const status = spaceVerdict(free, largest);
    const detail = `${prettyBytes(free)} free${largest > 0 ? `; the largest recent backup is ${prettyBytes(largest)}` : ''}`;
    checks.push({ name: 'disk space', status, detail, ...(status === 'ok' ? {} : { fix: 'Free some space, prune old backups (dbguard prune), or point --dir at another disk.' }) });
  }
  return checks;
}

async function nearestExisting(dir: string): Promise<string> {
  let current = path.dirname(dir);
  while (!(await fs.stat(current).then(() => true, () => false)) && path.dirname(current) !== current) current = path.dirname(current);
  return current;
}

/** The top-level remote and any database's own, each listed once. */
async function remoteChecks(config: DbguardConfig, env: Record<string, string | undefined>, databases: NamedDatabase[], dir: string): Promise<DoctorCheck[]> {
  const remotes = new Map<string, RemoteSettings>();
  try {
    const top = resolveRemote(config.remote, env);
    if (top) remotes.set(describeRemote(top), top);
  } catch (error) {
    return [problem('remote', message(error), hintOf(error))];
  }
  for (const d of databases) if (d.backup.remote) remotes.set(describeRemote(d.backup.remote), d.backup.remote);
  if (remotes.size === 0) return [ok('remote', 'none configured (backups stay on this machine)')];
  const local = new LocalBackupStore(dir);
  return Promise.all(
    [...remotes].map(async ([display, remote]) => {
      try {
        await new S3BackupStore(remote, path.join(local.root, '.dbguard', 'uploads')).probe();
        return ok('remote', `${display} answers`);
      } catch (error) {
        return problem('remote', message(error), hintOf(error));
      }
    }),
  );
}

const DEFAULT_PORTS: Record<string, number> = { 'https:': 443, 'http:': 80, 'smtps:': 465, 'smtp:': 587 };

/** Each channel's variables are set and its host accepts a connection; nothing is sent (`dbguard notify test` does). */
async function channelChecks(config: DbguardConfig, env: Record<string, string | undefined>, timeoutMs: number): Promise<DoctorCheck[]> {
  if (!config.notify || config.notify.length === 0) return [ok('notifications', 'none configured')];
  let channels: Channel[];
  try {
    channels = resolveChannels(config.notify, env);
  } catch (error) {
    return [problem('notifications', message(error), hintOf(error))];
  }
  return Promise.all(
    channels.map(async (channel) => {
      const name = `notify ${channel.label}`;
      let url: URL;
      try {
        url = new URL(channel.config.url);
      } catch {
        return problem(name, 'its url is not a URL', 'Check the channel\'s "url" in dbguard.config.json (and the variable it names).');
      }
      const port = Number(url.port) || DEFAULT_PORTS[url.protocol];
      if (!port) return problem(name, `unsupported scheme ${url.protocol}`, 'Use an https:// URL (smtp:// or smtps:// for email).');
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const failure = await connectOnce(host, port, timeoutMs);
      return failure === undefined
        ? ok(name, `${url.hostname}:${port} accepts connections`)
        : problem(name, `cannot reach ${url.hostname}:${port} (${failure})`, 'Check the URL and the network; `dbguard notify test` sends a test message.');
    }),
  );
}

function connectOnce(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(`no answer within ${timeoutMs / 1000} s`);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

function ok(name: string, detail: string): DoctorCheck {
  return { name, status: 'ok', detail };
}

function warning(name: string, detail: string, fix: string | undefined): DoctorCheck {
  return { name, status: 'warning', detail, ...(fix ? { fix } : {}) };
}

function problem(name: string, detail: string, fix: string | undefined): DoctorCheck {
  return { name, status: 'problem', detail, ...(fix ? { fix } : {}) };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function hintOf(error: unknown): string | undefined {
  return (error as { hint?: string })?.hint;
}
