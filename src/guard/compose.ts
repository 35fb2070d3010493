import { createRequire } from 'node:module';
import path from 'node:path';
import type { ReadFile } from './types.js';

/*
 * Where a Compose project keeps its databases' data: a bind mount (`./data:/var/lib/postgresql/data`), whatever the
 * host folder is called, or a named volume (`db_files:/var/lib/mysql`, created as `<project>_db_files`), or an
 * anonymous volume when the data folder is not mounted at all (the images declare it as a VOLUME). `docker compose
 * down -v` removes named and anonymous volumes and never touches bind mounts; `rm -rf ./data` is the other way round.
 */

export interface ComposeData {
  /** The compose file that was read. */
  file: string;
  /** Host folders bind-mounted as a database's data folder, absolute. */
  bindMounts: string[];
  /** Volume names as Docker knows them (`myapp_db_files`), and their keys in the file (`db_files`). */
  volumes: Array<{ key: string; name: string }>;
  /** Database services whose data folder is not mounted: it lives in an anonymous volume. */
  anonymous: string[];
  /** Named volumes that no recognised database keeps its data in. */
  otherVolumes: string[];
}

const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

/** Images of database servers; their data folders are listed below. */
const DATABASE_IMAGE = /(^|\/)(postgres|postgis|timescaledb[\w-]*|pgvector|mysql|mariadb|percona[\w-]*|mongo|mongodb[\w-]*|redis|redis-stack[\w-]*|valkey|supabase\/postgres|cockroach|clickhouse[\w-]*|mssql[\w-]*|neo4j|couchdb|cassandra|elasticsearch|opensearch|influxdb)(:|@|$)/i;
/** Folders where database servers keep their data inside their containers. */
const DATA_TARGET = /^\/(var\/lib\/(postgresql|mysql|mariadb|mongodb|clickhouse|neo4j|cassandra|influxdb2?|couchdb)|bitnami\/(postgresql|mysql|mariadb|mongodb|redis)|data\/db|var\/opt\/mssql|usr\/share\/elasticsearch\/data|cockroach\/cockroach-data)(\/|$)/;
/** The data folder each image declares as a VOLUME, used when nothing is mounted there. */
const DEFAULT_TARGET: Array<[RegExp, string]> = [
  [/postgres|postgis|timescale|pgvector/i, '/var/lib/postgresql/data'],
  [/mysql|mariadb|percona/i, '/var/lib/mysql'],
  [/mongo/i, '/data/db'],
  [/redis|valkey/i, '/data'],
];

const requireModule = createRequire(import.meta.url);

/**
 * The database data of the Compose project that `docker compose` would find from `cwd` (the first compose file in
 * `cwd` or a folder above it, or the `-f` files given); undefined when there is none or it cannot be read.
 */
export function composeData(cwd: string, readFile: ReadFile, files: string[] = [], projectName?: string): ComposeData | undefined {
  const found = files.length > 0 ? files.map((f) => path.resolve(cwd, f)) : findComposeFile(cwd, readFile);
  if (!found || found.length === 0) return undefined;
  const data: ComposeData = { file: found[0]!, bindMounts: [], volumes: [], anonymous: [], otherVolumes: [] };
  const { parse } = requireModule('yaml') as typeof import('yaml');
  for (const file of found) {
    const text = readFile(file);
    if (text === undefined) return undefined;
    let doc: ComposeFile;
    try {
      doc = (parse(text) ?? {}) as ComposeFile;
    } catch {
      return undefined;
    }
    const dir = path.dirname(file);
    const project = normalizeProject(projectName ?? (typeof doc.name === 'string' ? doc.name : path.basename(path.dirname(found[0]!))));
    for (const [serviceName, service] of Object.entries(doc.services ?? {})) {
      if (!service || typeof service !== 'object') continue;
      const image = typeof service.image === 'string' ? service.image : '';
      const database = DATABASE_IMAGE.test(image) || /^(db|database|postgres(ql)?|pg|mysql|mariadb|mongo(db)?|redis)$/i.test(serviceName);
      const mounts = (Array.isArray(service.volumes) ? service.volumes : []).map(mountOf).filter((m): m is Mount => m !== undefined);
      for (const mount of mounts) {
        if (!DATA_TARGET.test(mount.target) && !(database && mount.target === '/data')) {
          if (!mount.bind && mount.source) data.otherVolumes.push(mount.source);
          continue;
        }
        if (mount.bind) data.bindMounts.push(path.resolve(dir, mount.source));
        else if (mount.source) data.volumes.push({ key: mount.source, name: volumeName(doc, mount.source, project) });
      }
      const defaultTarget = DEFAULT_TARGET.find(([re]) => re.test(image))?.[1];
      if (database && defaultTarget && !mounts.some((m) => m.target === defaultTarget || defaultTarget.startsWith(`${m.target}/`))) data.anonymous.push(serviceName);
    }
  }
  return data;
}

interface ComposeFile {
  name?: unknown;
  services?: Record<string, { image?: unknown; volumes?: unknown } | null>;
  volumes?: Record<string, { name?: unknown; external?: unknown } | null>;
}

type Mount = { source: string; target: string; bind: boolean };

/** `./data:/var/lib/postgresql/data:rw`, `db:/var/lib/mysql`, `{ type: bind, source, target }`. */
function mountOf(entry: unknown): Mount | undefined {
  if (typeof entry === 'string') {
    const [source, target] = entry.split(':');
    if (target === undefined) return { source: '', target: source!, bind: false };
    return { source: source!, target, bind: /^[./~]/.test(source!) };
  }
  if (entry && typeof entry === 'object') {
    const { type, source, target } = entry as { type?: unknown; source?: unknown; target?: unknown };
    if (typeof target !== 'string') return undefined;
    const from = typeof source === 'string' ? source : '';
    return { source: from, target, bind: type === 'bind' || /^[./~]/.test(from) };
  }
  return undefined;
}

function volumeName(doc: ComposeFile, key: string, project: string): string {
  const declared = doc.volumes?.[key];
  if (declared && typeof declared.name === 'string') return declared.name;
  return declared?.external === true ? key : `${project}_${key}`;
}

/** Compose lower-cases the project name and keeps letters, digits, `-` and `_`. */
function normalizeProject(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]/g, '');
}

function findComposeFile(cwd: string, readFile: ReadFile): string[] | undefined {
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    for (const name of COMPOSE_FILES) {
      const file = path.join(dir, name);
      if (readFile(file) !== undefined) return [file];
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}
