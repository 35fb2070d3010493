import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, readFileSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCli } from '../harness/cli.js';
import { tempDir } from '../harness/tmp.js';

/** A project with a fake `prisma` package whose binary records each run, linked into node_modules/.bin as npm does. */
async function project(): Promise<string> {
  const dir = tempDir('dbguard-shim-');
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', devDependencies: { prisma: '1.0.0' } }, null, 2));
  const pkg = path.join(dir, 'node_modules', 'prisma');
  await mkdir(path.join(pkg, 'build'), { recursive: true });
  await writeFile(path.join(pkg, 'package.json'), JSON.stringify({ name: 'prisma', version: '1.0.0', bin: { prisma: 'build/index.js' } }));
  await writeFile(
    path.join(pkg, 'build', 'index.js'),
    "#!/usr/bin/env node\nrequire('fs').appendFileSync(require('path').join(process.cwd(), 'prisma-ran.log'), process.argv.slice(2).join(' ') + '\\n');\n",
  );
  chmodSync(path.join(pkg, 'build', 'index.js'), 0o755);
  const bin = path.join(dir, 'node_modules', '.bin');
  await mkdir(bin, { recursive: true });
  await symlink('../prisma/build/index.js', path.join(bin, 'prisma'));
  await writeFile(path.join(bin, 'dbguard'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(path.join(bin, 'dbguard'), 0o755);
  return dir;
}

const npx = (dir: string, ...args: string[]) =>
  spawnSync('npx', ['--no-install', ...args], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', DATABASE_URL: undefined } });
const ran = (dir: string) => (existsSync(path.join(dir, 'prisma-ran.log')) ? readFileSync(path.join(dir, 'prisma-ran.log'), 'utf8') : '');

describe('shims in node_modules/.bin', () => {
  it('stop `npx prisma db push --force-reset` and let `npx prisma generate` run', async () => {
    const dir = await project();
    const init = await runCli(['init', '--shims'], { cwd: dir });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('node_modules/.bin/prisma: routes prisma through dbguard run');
    expect(lstatSync(path.join(dir, 'node_modules', '.bin', '.dbguard', 'prisma')).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).scripts.postinstall).toBe('dbguard guard shims');

    const refused = npx(dir, 'prisma', 'db', 'push', '--force-reset');
    expect(refused.status, refused.stderr).toBe(3);
    expect(refused.stderr).toContain('prisma-db-push-force-reset');
    expect(ran(dir)).toBe('');

    const generated = npx(dir, 'prisma', 'generate');
    expect(generated.status, generated.stderr).toBe(0);
    expect(ran(dir)).toBe('generate\n');
  });

  it('are re-installed after npm replaces them (the postinstall command), and idempotent', async () => {
    const dir = await project();
    expect((await runCli(['guard', 'shims'], { cwd: dir })).code).toBe(0);
    expect((await runCli(['guard', 'shims'], { cwd: dir })).stdout).toContain('nothing to change');
    const bin = path.join(dir, 'node_modules', '.bin', 'prisma');
    spawnSync('rm', [bin]);
    await symlink('../prisma/build/index.js', bin);
    const again = await runCli(['guard', 'shims'], { cwd: dir });
    expect(again.stdout).toContain('routes prisma through dbguard run');
    expect(readFileSync(bin, 'utf8')).toContain('run -- "$basedir/.dbguard/prisma" "$@"');
    expect(npx(dir, 'prisma', 'migrate', 'reset', '--force').status).toBe(3);
    expect(ran(dir)).toBe('');
  });
});
