import type { TestProject } from 'vitest/node';
import { type MariadbServer, startMariadb } from './mariadb.js';
import { type PgServer, startPostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pg: { host: string; port: number };
    mysql: { host: string; port: number };
  }
}

let server: PgServer | undefined;
let mariadb: MariadbServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  // Both servers start side by side, once for the whole run.
  const [pg, maria] = await Promise.allSettled([startPostgres(), startMariadb()]);
  if (pg.status === 'fulfilled') server = pg.value;
  if (maria.status === 'fulfilled') mariadb = maria.value;
  if (pg.status === 'rejected' || maria.status === 'rejected') {
    await teardown();
    throw pg.status === 'rejected' ? pg.reason : (maria as PromiseRejectedResult).reason;
  }
  project.provide('pg', { host: server!.host, port: server!.port });
  project.provide('mysql', { host: mariadb!.host, port: mariadb!.port });
}

export async function teardown(): Promise<void> {
  server?.stop();
  await mariadb?.stop();
}
