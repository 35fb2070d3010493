import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Parser } from 'web-tree-sitter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ResolveContext, resolveCommand } from '../../src/guard/resolve.js';
import { loadShellParser, parseShell } from '../../src/guard/shell.js';

let parser: Parser;

const PROJECT: Record<string, string> = {
  '/p/package.json': JSON.stringify({
    scripts: {
      reset: 'dropdb app',
      prereset: 'echo pre',
      postreset: 'psql -c post',
      'db:a': 'dropdb a',
      'db:b': 'dropdb b',
      'db:a:x': 'dropdb ax',
      loop: 'npm run loop',
      start: 'dropdb started',
      stop: 'dropdb stopped',
      test: 'dropdb tested',
      install: 'dropdb installed',
      bad: 42,
    },
  }),
  '/p/s.sh': 'dropdb from-script',
  '/p/sub/package.json': JSON.stringify({ scripts: { reset: 'dropdb sub' } }),
};

/** The commands a line finally runs, as `tool args` (prefixed with `@folder` when not `/p`). */
function resolve(line: string, files: Record<string, string> = PROJECT) {
  const ctx: ResolveContext = { parser, readFile: (file) => files[file], written: new Map(), unparsed: [], overwritten: [] };
  const parsed = parseShell(parser, line, { cwd: '/p', readFile: ctx.readFile });
  const resolved = parsed.commands.flatMap((c) => resolveCommand(c, ctx));
  return { runs: resolved.map((r) => `${r.cwd === '/p' ? '' : `@${r.cwd} `}${[r.tool, ...r.args].join(' ')}`), resolved, ctx };
}
const runs = (line: string, files?: Record<string, string>) => resolve(line, files).runs;

describe('guard command resolution', () => {
  beforeAll(async () => {
    parser = await loadShellParser();
  });

  it.each([
    ['sudo -u postgres dropdb a', 'dropdb a'],
    ['sudo -iu postgres dropdb a', 'dropdb a'],
    ['doas -u postgres dropdb a', 'dropdb a'],
    ['env -u X -- dropdb a', 'dropdb a'],
    ['env -i A=1 dropdb a', 'dropdb a'],
    ['time -f %e dropdb a', 'dropdb a'],
    ['nohup dropdb a', 'dropdb a'],
    ['builtin dropdb a', 'dropdb a'],
    ['exec -a name dropdb a', 'dropdb a'],
    ['command dropdb a', 'dropdb a'],
    ['nice -n 5 dropdb a', 'dropdb a'],
    ['ionice -c 3 dropdb a', 'dropdb a'],
    ['timeout -s KILL 10 dropdb a', 'dropdb a'],
    ['stdbuf -o L dropdb a', 'dropdb a'],
    ['xargs -n 1 dropdb', 'dropdb'],
    ['watch -n 5 dropdb a', 'dropdb a'],
    ['cross-env A=1 dropdb a', 'dropdb a'],
    ["cross-env-shell A=1 'dropdb a'", 'dropdb a'],
    ['dotenv -e .env -- dropdb a', 'dropdb a'],
    ['dotenv -e .env dropdb a', 'dropdb a'],
    ['env-cmd -f .env dropdb a', 'dropdb a'],
    ['eval dropdb a', 'dropdb a'],
    ['shx rm dev.db', 'rm dev.db'],
    ["su -c 'dropdb a' postgres", 'dropdb a'],
    ["su --command='dropdb a'", 'dropdb a'],
    ["env -S 'dropdb a'", 'dropdb a'],
    ['dotenvx run -f .env -- dropdb a', 'dropdb a'],
    ['dotenvx run -f .env dropdb a', 'dropdb a'],
    ["bash -c 'dropdb a'", 'dropdb a'],
    ["bash -euo pipefail -c 'dropdb a'", 'dropdb a'],
    ["bash --rcfile x -c 'dropdb a'", 'dropdb a'],
    ["sh -xc 'dropdb a'", 'dropdb a'],
    ['sh s.sh', 'dropdb from-script'],
    ['bash -- s.sh', 'dropdb from-script'],
    ['./s.sh', 'dropdb from-script'],
    ['source s.sh', 'dropdb from-script'],
    ['. ./s.sh', 'dropdb from-script'],
    ['bash <<EOF\ndropdb a\nEOF', 'dropdb a'],
    ['npx prisma@6 migrate reset', 'prisma migrate reset'],
    ['npx -y prisma migrate reset', 'prisma migrate reset'],
    ['npx -p prisma@6 prisma migrate reset', 'prisma migrate reset'],
    ['npx --package=prisma prisma migrate reset', 'prisma migrate reset'],
    ['npx -w api prisma migrate reset', 'prisma migrate reset'],
    ["npx -c 'dropdb a'", 'dropdb a'],
    ["npx --call='dropdb a'", 'dropdb a'],
    ['npx sequelize-cli db:drop', 'sequelize db:drop'],
    ['npx @mikro-orm/cli migration:fresh', 'mikro-orm migration:fresh'],
    ['npx @scope/tool@1 x', 'tool x'],
    ['npx -- prisma migrate reset', 'prisma migrate reset'],
    ['npm exec prisma -- migrate reset', 'prisma migrate reset'],
    ['npm x prisma migrate reset', 'prisma migrate reset'],
    ['pnpm dlx prisma migrate reset', 'prisma migrate reset'],
    ['pnpx prisma migrate reset', 'prisma migrate reset'],
    ['bunx prisma migrate reset', 'prisma migrate reset'],
    ['bun x prisma migrate reset', 'prisma migrate reset'],
    ['yarn dlx prisma migrate reset', 'prisma migrate reset'],
    ['node node_modules/prisma/build/index.js migrate reset', 'prisma migrate reset'],
    ['node ./node_modules/.bin/prisma migrate reset', 'prisma migrate reset'],
    ['node -r dotenv/config node_modules/typeorm/cli.js schema:drop', 'typeorm schema:drop'],
    ['ts-node ./node_modules/@mikro-orm/cli/cli.js migration:fresh', 'mikro-orm migration:fresh'],
    ['docker exec -it -u postgres db dropdb a', 'dropdb a'],
    ['docker run --rm -e X=1 --name x postgres dropdb a', 'dropdb a'],
    ['docker compose exec db dropdb a', 'dropdb a'],
    ['docker-compose -f x.yml exec -T db dropdb a', 'dropdb a'],
    ['docker --context prod compose down -v', 'docker-compose down -v'],
    ['docker -H tcp://x volume rm pg', 'docker volume rm pg'],
    ['kubectl exec -it pod -- dropdb a', 'dropdb a'],
    ['dbguard run -- dropdb a', 'dropdb a'],
    ['dbguard run --db app dropdb a', 'dropdb a'],
    ['npm run reset', 'echo pre|dropdb app|psql -c post'],
    ['npm run-script reset', 'echo pre|dropdb app|psql -c post'],
    ['npm run reset -- --force', 'echo pre|dropdb app --force|psql -c post'],
    ['npm --prefix sub run reset', '@/p/sub dropdb sub'],
    ['npm run --prefix sub reset', '@/p/sub dropdb sub'],
    ['npm test', 'dropdb tested'],
    ['npm t', 'dropdb tested'],
    ['npm start', 'dropdb started'],
    ['npm stop', 'dropdb stopped'],
    ['npm restart', 'dropdb stopped|dropdb started'],
    ['npm install', 'dropdb installed'],
    ['npm ci', 'dropdb installed'],
    ['pnpm reset', 'echo pre|dropdb app|psql -c post'],
    ['pnpm run reset', 'echo pre|dropdb app|psql -c post'],
    ['pnpm -C sub reset', '@/p/sub dropdb sub'],
    ['pnpm exec dropdb a', 'dropdb a'],
    ['pnpm install', 'dropdb installed'],
    ['pnpm dropdb a', 'dropdb a'],
    ['yarn reset', 'echo pre|dropdb app|psql -c post'],
    ['yarn run reset', 'echo pre|dropdb app|psql -c post'],
    ['yarn --cwd sub reset', '@/p/sub dropdb sub'],
    ['yarn exec dropdb a', 'dropdb a'],
    ['yarn', 'dropdb installed'],
    ['yarn dropdb a', 'dropdb a'],
    ['bun run reset', 'echo pre|dropdb app|psql -c post'],
    ['bun reset', 'echo pre|dropdb app|psql -c post'],
    ['bun --cwd sub reset', '@/p/sub dropdb sub'],
    ["bun exec 'dropdb a'", 'dropdb a'],
    ['bun i', 'dropdb installed'],
    ['run-s db:*', 'dropdb a|dropdb b'],
    ['run-p db:**', 'dropdb a|dropdb b|dropdb ax'],
    ['npm-run-all --max-parallel 2 db:a', 'dropdb a'],
  ])('%s -> %s', (line, expected) => {
    expect(runs(line).join('|')).toBe(expected);
  });

  it.each([
    'command -v dropdb',
    'su postgres',
    'npx',
    'npx -c',
    'npm install prisma',
    'npm run',
    'npm run missing',
    'npm version',
    'pnpm add prisma',
    'pnpm run missing',
    'yarn add prisma',
    'bun add prisma',
    'bun test',
    'node -e "x"',
    'node script.js',
    'dbguard backup',
    'dbguard run',
    'dotenvx encrypt',
    'sh missing.sh',
    'sh',
    'source',
    'npm run loop',
    'run-s nothing:*',
    "bash -c",
  ])('%s -> nothing to check', (line) => {
    expect(runs(line)).toEqual([]);
  });

  it('reads the words of an inline script as separate words, not as one command name', () => {
    const words = (line: string) => resolve(line).resolved.map((r) => [r.tool, ...r.args]);
    for (const line of ["env -S 'dropdb a'", "env --split-string 'dropdb a'", "su -c 'dropdb a'", "su --command 'dropdb a'", "npx -c 'dropdb a'", "npx --call 'dropdb a'", "npx --shell-mode 'dropdb a'", "bash -c 'dropdb a'", "bash -ec 'dropdb a'", "bash -- -c 'dropdb a'", "eval 'dropdb a'", "cross-env-shell A=1 'dropdb a'", "bun exec 'dropdb a'"]) {
      expect(words(line), line).toEqual(line === "bash -- -c 'dropdb a'" ? [] : [['dropdb', 'a']]);
    }
    expect(words('env -C sub -u X dropdb a')).toEqual([['dropdb', 'a']]);
    expect(words('env -- dropdb -x')).toEqual([['dropdb', '-x']]);
    expect(words('npx -- dropdb -x')).toEqual([['dropdb', '-x']]);
    expect(words('bash -o pipefail -- s.sh')).toEqual([['dropdb', 'from-script']]);
  });

  it.each([
    ...['sh', 'bash', 'zsh', 'dash', 'ksh', 'mksh', 'ash', '/bin/sh'].map((shell) => [`${shell} -c 'dropdb a'`, 'dropdb a']),
    ...['node', 'nodejs', 'tsx', 'ts-node', 'ts-node-esm', 'ts-node-script', 'ts-node-transpile-only'].map((node) => [`${node} node_modules/prisma/build/index.js migrate reset`, 'prisma migrate reset']),
  ])('every shell and every Node.js launcher: %s -> %s', (line, expected) => {
    expect(runs(line).join('|')).toBe(expected);
  });

  it('leaves commands it does not see through as they are', () => {
    expect(runs('kubectl get pods')).toEqual(['kubectl get pods']);
    expect(runs('docker ps')).toEqual(['docker ps']);
    expect(runs('docker exec db')).toEqual(['docker exec db']);
    expect(runs('/usr/bin/mariadb -e x')).toEqual(['mysql -e x']);
  });

  it('keeps the chain, the names set on the way, and the `dbguard run` approval', () => {
    const { resolved } = resolve('A=1 cross-env B=2 env C=3 npm run reset');
    expect(resolved.map((r) => r.display)).toEqual(['A=1 cross-env B=2 env C=3 npm run reset (prereset) -> echo pre', 'A=1 cross-env B=2 env C=3 npm run reset -> dropdb app', 'A=1 cross-env B=2 env C=3 npm run reset (postreset) -> psql -c post']);
    expect(resolve('A=1 cross-env B=2 env C=3 dropdb a').resolved[0]?.envNames).toEqual(['A', 'B', 'C']);
    expect(resolve('dbguard run --approve=yes -- dropdb a').resolved[0]?.dbguardRun).toEqual({ approve: true });
    expect(resolve('dbguard run --approve yes dropdb a').resolved[0]?.dbguardRun).toEqual({ approve: true });
    expect(resolve('dbguard run -- npm run reset').resolved.map((r) => r.dbguardRun)).toEqual([{ approve: false }, { approve: false }, { approve: false }]);
    expect(resolve('dropdb a').resolved[0]?.dbguardRun).toBeUndefined();
    expect(resolve('env -C sub dropdb a').runs).toEqual(['@/p/sub dropdb a']);
    expect(resolve('env --chdir=/x dropdb a').runs).toEqual(['@/x dropdb a']);
  });

  it('stops at loops and at chains too long to follow, and says what it could not read', () => {
    const deep = resolve(`${'sudo '.repeat(40)}dropdb a`);
    expect(deep.runs).toEqual([]);
    expect(deep.ctx.unparsed).toHaveLength(1);
    const nested = resolve(`${"sh -c '".repeat(1)}dropdb a'`);
    expect(nested.runs).toEqual(['dropdb a']);
    const files = { ...PROJECT, '/p/package.json': JSON.stringify({ scripts: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`s${i}`, `npm run s${i + 1}`])) }) };
    const chain = resolve('npm run s0', files);
    expect(chain.runs).toEqual([]);
    expect(chain.ctx.unparsed).toHaveLength(1);
    expect(resolve("bash -c 'echo ('").ctx.unparsed).toHaveLength(1);
    expect(resolve('npm run reset', { '/p/package.json': '{not json' }).runs).toEqual([]);
    expect(resolve('npm run reset', {}).runs).toEqual([]);
  });
});

describe('guard command resolution: the options of each wrapper that take a value', () => {
  beforeAll(async () => {
    parser = await loadShellParser();
  });

  // `<wrapper> <option> v <command>`: `v` is the option's value, not the command the wrapper runs.
  const WRAPPER_OPTIONS: Array<[string, string[], string, string]> = [
    ['sudo', ['-u', '-g', '-h', '-p', '-C', '-D', '-r', '-t', '-U', '-T', '--user', '--group', '--host', '--prompt', '--chdir'], 'dropdb a', 'dropdb a'],
    ['doas', ['-u', '-C'], 'dropdb a', 'dropdb a'],
    ['time', ['-f', '-o', '--format', '--output'], 'dropdb a', 'dropdb a'],
    ['exec', ['-a'], 'dropdb a', 'dropdb a'],
    ['nice', ['-n', '--adjustment'], 'dropdb a', 'dropdb a'],
    ['ionice', ['-c', '-n', '-p', '--class', '--classdata'], 'dropdb a', 'dropdb a'],
    ['timeout', ['-s', '--signal', '-k', '--kill-after'], '10 dropdb a', 'dropdb a'],
    ['stdbuf', ['-i', '-o', '-e'], 'dropdb a', 'dropdb a'],
    ['xargs', ['-I', '-L', '-n', '-P', '-s', '-d', '-E', '-a'], 'dropdb a', 'dropdb a'],
    ['watch', ['-n', '--interval', '-d'], 'dropdb a', 'dropdb a'],
    ['dotenv', ['-e', '-v', '-c'], 'dropdb a', 'dropdb a'],
    ['env-cmd', ['-f', '--file', '-e', '--environments', '-r', '--rc-file'], 'dropdb a', 'dropdb a'],
    ['dotenvx run', ['-f', '--env-file', '-e', '--env', '--convention', '--env-keys-file'], 'dropdb a', 'dropdb a'],
    ['env', ['-u', '--unset'], 'dropdb a', 'dropdb a'],
    ['npx', ['-p', '--package', '-w', '--workspace', '--prefix', '--registry', '--cache', '--userconfig', '--node-options', '--shell', '--script-shell'], 'prisma migrate reset', 'prisma migrate reset'],
    ['node', ['-r', '--require', '--import', '--loader', '--experimental-loader', '-C', '--conditions', '--input-type', '--title', '--env-file', '-P', '--project', '--tsconfig', '-O', '--compiler-options'], 'node_modules/prisma/build/index.js migrate reset', 'prisma migrate reset'],
    ['docker', ['--context', '-c', '--host', '-H', '--config', '--log-level', '-l', '--tlscacert', '--tlscert', '--tlskey'], 'exec db dropdb a', 'dropdb a'],
    ['docker', ['--context', '-c', '--host', '-H', '--config', '--log-level', '-l', '--tlscacert', '--tlscert', '--tlskey'], 'volume rm pg', 'docker volume rm pg'],
    ['docker exec', ['-e', '--env', '--env-file', '-u', '--user', '-w', '--workdir', '--detach-keys', '--index'], 'db dropdb a', 'dropdb a'],
    ['docker run', ['-e', '--env', '--env-file', '-u', '--user', '-w', '--workdir', '--name', '-v', '--volume', '-p', '--publish', '--entrypoint', '-l', '--label', '--network', '--platform', '--pull', '--net', '--mount', '--restart', '--cpus', '-m', '--memory', '--hostname', '--add-host', '--dns', '--label-file', '--log-driver', '--log-opt', '--expose', '--device', '--tmpfs', '--ulimit', '--cap-add', '--cap-drop', '--security-opt', '--stop-signal', '--pid', '--ipc', '--shm-size', '--health-cmd', '--cidfile', '-a', '--attach'], 'postgres dropdb a', 'dropdb a'],
    ['docker-compose', ['-f', '--file', '-p', '--project-name', '--env-file', '--profile', '--project-directory', '--ansi', '--progress', '--parallel'], 'exec db dropdb a', 'dropdb a'],
    ['bash', ['--rcfile', '--init-file', '-o', '+o', '-eo'], "-c 'dropdb a'", 'dropdb a'],
    ['dbguard run', ['--db', '--dir', '--approve'], 'dropdb a', 'dropdb a'],
    ['npm', ['--prefix'], 'run reset', '@/p/v echo in-v'],
    ['pnpm', ['-C', '--dir'], 'reset', '@/p/v echo in-v'],
    ['yarn', ['--cwd'], 'reset', '@/p/v echo in-v'],
    ['bun', ['--cwd'], 'reset', '@/p/v echo in-v'],
    ['npm', ['--userconfig'], 'run reset', 'echo pre|dropdb app|psql -c post'],
    ['pnpm', ['--workspace-dir'], 'reset', 'echo pre|dropdb app|psql -c post'],
    ['bun', ['--config', '-c'], 'reset', 'echo pre|dropdb app|psql -c post'],
    ['run-s', ['--max-parallel', '--npm-path'], 'reset', 'echo pre|dropdb app|psql -c post'],
  ];
  it.each(WRAPPER_OPTIONS.flatMap(([wrapper, options, after, expected]) => options.map((o) => [`${wrapper} ${o} v ${after}`, expected])))('%s -> %s', (line, expected) => {
    const value = resolve(line, { ...PROJECT, '/p/v/package.json': JSON.stringify({ scripts: { reset: 'echo in-v' } }) });
    expect(value.runs.join('|')).toBe(expected);
  });

  it.each([
    ['run-s -c db:a', 'dropdb a'],
    ['npm-run-all --continue-on-error db:a db:b', 'dropdb a|dropdb b'],
    ['run-p -l -c db:b', 'dropdb b'],
  ])('npm-run-all flags take no value: %s -> %s', (line, expected) => {
    expect(runs(line).join('|')).toBe(expected);
  });

  it.each([
    ['node -e x node_modules/prisma/build/index.js migrate reset'],
    ['node --eval x node_modules/prisma/build/index.js migrate reset'],
    ['node -p x node_modules/prisma/build/index.js migrate reset'],
    ['node --print x node_modules/prisma/build/index.js migrate reset'],
    ['command -V dropdb a'],
    ['dotenvx decrypt -f .env dropdb a'],
    ['dbguard backup dropdb a'],
  ])('runs nothing it would check: %s', (line) => {
    expect(runs(line)).toEqual([]);
  });
});

describe("guard command resolution: the package managers' own commands are not package scripts", () => {
  beforeAll(async () => {
    parser = await loadShellParser();
  });

  const PNPM = ['install', 'i', 'add', 'remove', 'rm', 'uninstall', 'update', 'up', 'upgrade', 'list', 'ls', 'll', 'why', 'outdated', 'link', 'unlink', 'import', 'audit', 'publish', 'pack', 'store', 'init', 'create', 'prune', 'fetch', 'rebuild', 'rb', 'dedupe', 'patch', 'patch-commit', 'setup', 'env', 'config', 'root', 'bin', 'help', 'licenses', 'deploy', 'doctor', 'server', 'approve-builds', 'self-update'];
  const YARN = ['install', 'add', 'remove', 'upgrade', 'up', 'info', 'why', 'init', 'create', 'config', 'cache', 'workspaces', 'set', 'plugin', 'npm', 'pack', 'publish', 'version', 'constraints', 'dedupe', 'explain', 'link', 'unlink', 'audit', 'outdated', 'list', 'global', 'import', 'licenses', 'login', 'logout', 'owner', 'tag', 'team', 'policies', 'autoclean', 'check', 'generate-lock-entry', 'help', 'bin', 'patch', 'patch-commit', 'rebuild', 'stage', 'unplug', 'search'];
  const BUN = ['install', 'i', 'add', 'a', 'remove', 'rm', 'update', 'link', 'unlink', 'pm', 'init', 'create', 'c', 'upgrade', 'build', 'test', 'repl', 'outdated', 'publish', 'patch', 'audit', 'info'];
  // A project with a script of each name: a built-in misread as `run <name>` would run it.
  const scripts = Object.fromEntries([...new Set([...PNPM, ...YARN, ...BUN, 'dev'])].map((name) => [name, `dropdb ${name}`]));
  const files = { '/p/package.json': JSON.stringify({ scripts }) };

  it.each([...PNPM.map((c) => `pnpm ${c} x`), ...YARN.map((c) => `yarn ${c} x`), ...BUN.map((c) => `bun ${c} x`)])('%s runs no script', (line) => {
    expect(runs(line, files)).toEqual([]);
  });

  it.each(['pnpm', 'yarn', 'bun run', 'npm run', 'pnpm run', 'yarn run'])('%s dev runs the script', (manager) => {
    expect(runs(`${manager} dev x`, files)).toEqual(['dropdb dev x']);
  });

  it.each([
    ['npm tst', 'dropdb tested'],
    ['npm rum reset', 'echo pre|dropdb app|psql -c post'],
    ['npm urn reset', 'echo pre|dropdb app|psql -c post'],
    ['npm i', 'dropdb installed'],
    ['pnpm i', 'dropdb installed'],
    ['pnpm', 'dropdb installed'],
    ['pnpm t', 'dropdb tested'],
    ['pnpm tst', 'dropdb tested'],
    ['pnpm run-script reset', 'echo pre|dropdb app|psql -c post'],
    ['yarn install', 'dropdb installed'],
    ['bun install', 'dropdb installed'],
    ['pnpm -C sub exec dropdb a', '@/p/sub dropdb a'],
    ['pnpm --dir sub reset', '@/p/sub dropdb sub'],
    ['pnpm dlx prisma migrate reset', 'prisma migrate reset'],
    ['yarn node node_modules/prisma/build/index.js migrate reset', 'prisma migrate reset'],
    ['bun x prisma migrate reset', 'prisma migrate reset'],
    ['bun run reset -- --force', 'echo pre|dropdb app --force|psql -c post'],
    ['bun --cwd sub run reset', '@/p/sub dropdb sub'],
    ['yarn run reset --force', 'echo pre|dropdb app --force|psql -c post'],
  ])('%s -> %s', (line, expected) => {
    expect(runs(line).join('|')).toBe(expected);
  });

  it('runs the lifecycle scripts of an install once each, in order', () => {
    const lifecycle = { '/p/package.json': JSON.stringify({ scripts: { preinstall: 'dropdb pre', install: 'dropdb main', postinstall: 'dropdb post', prepare: 'dropdb prepare', prepack: 'dropdb prepack' } }) };
    for (const line of ['npm install', 'npm ci', 'pnpm install', 'yarn', 'bun i']) expect(runs(line, lifecycle)).toEqual(['dropdb pre', 'dropdb main', 'dropdb post', 'dropdb prepare']);
  });
});

describe('guard command resolution: the packages a workspace selector picks', () => {
  let root: string;
  const PACKAGES: Record<string, object> = {
    'mono/package.json': { name: 'mono', workspaces: ['packages/*', 'apps/*'], scripts: { reset: 'dropdb mono' } },
    'mono/packages/api/package.json': { name: '@mono/api', scripts: { reset: 'dropdb api', preinstall: 'dropdb api-install' } },
    'mono/packages/web/package.json': { name: '@mono/web', scripts: { reset: 'dropdb web' } },
    'mono/apps/site/package.json': { name: 'site', scripts: {} },
    'pmono/package.json': { name: 'pmono', scripts: { reset: 'dropdb pmono' } },
    'pmono/services/db/package.json': { name: 'db', scripts: { reset: 'dropdb db' } },
    'pmono/services/ui/package.json': { name: 'ui', scripts: { reset: 'dropdb ui' } },
    'pmono/services/legacy/package.json': { name: 'legacy', scripts: { reset: 'dropdb legacy' } },
  };

  beforeAll(async () => {
    parser = await loadShellParser();
    root = mkdtempSync(path.join(os.tmpdir(), 'dbguard-workspaces-'));
    for (const [file, data] of Object.entries(PACKAGES)) {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      writeFileSync(path.join(root, file), JSON.stringify(data));
    }
    writeFileSync(path.join(root, 'pmono/pnpm-workspace.yaml'), "packages:\n  - 'services/*'\n  - '!services/legacy'\n");
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** What a line run in `folder` finally runs, as `package-folder: command`. */
  function inWorkspace(folder: string, line: string): string[] {
    const readFile = (file: string) => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return undefined;
      }
    };
    const ctx: ResolveContext = { parser, readFile, written: new Map(), unparsed: [], overwritten: [] };
    const parsed = parseShell(parser, line, { cwd: path.join(root, folder), readFile });
    return parsed.commands.flatMap((c) => resolveCommand(c, ctx)).map((r) => `${path.relative(root, r.cwd)}: ${[r.tool, ...r.args].join(' ')}`);
  }

  it.each([
    ['npm run reset -w packages/api', ['mono/packages/api: dropdb api']],
    ['npm run reset --workspace=@mono/web', ['mono/packages/web: dropdb web']],
    ['npm -w packages run reset', ['mono/packages/api: dropdb api', 'mono/packages/web: dropdb web']],
    ['npm run reset --workspaces', ['mono/packages/api: dropdb api', 'mono/packages/web: dropdb web']],
    ['npm run reset -ws --include-workspace-root', ['mono: dropdb mono', 'mono/packages/api: dropdb api', 'mono/packages/web: dropdb web']],
    ['npm run reset -w @mono/api -w @mono/web', ['mono/packages/api: dropdb api', 'mono/packages/web: dropdb web']],
    ['npm run reset -w nothing-by-that-name', ['mono: dropdb mono', 'mono/packages/api: dropdb api', 'mono/packages/web: dropdb web']],
    ['npm install -w @mono/api', ['mono/packages/api: dropdb api-install']],
    ['npm exec -w @mono/api -- dropdb x', ['mono/packages/api: dropdb x']],
    ['yarn workspace @mono/api reset', ['mono/packages/api: dropdb api']],
    ['yarn workspace @mono/api run reset', ['mono/packages/api: dropdb api']],
    ['yarn workspaces foreach -A run reset', ['mono: dropdb mono', 'mono/apps/site: reset', 'mono/packages/api: dropdb api', 'mono/packages/web: dropdb web']],
    ['yarn workspaces foreach --all -j 2 run reset', ['mono: dropdb mono', 'mono/apps/site: reset', 'mono/packages/api: dropdb api', 'mono/packages/web: dropdb web']],
    ['yarn workspaces foreach --include @mono/web run reset', ['mono/packages/web: dropdb web']],
    ['yarn workspaces foreach --include @mono/web --include @mono/api reset', ['mono/packages/api: dropdb api', 'mono/packages/web: dropdb web']],
    ['yarn workspaces run reset', ['mono: dropdb mono', 'mono/apps/site: reset', 'mono/packages/api: dropdb api', 'mono/packages/web: dropdb web']],
    ['yarn workspaces foreach --include=@mono/api run reset', ['mono/packages/api: dropdb api']],
    // Options with a value; an --exclude is not applied (more packages are checked, never fewer).
    ...['--exclude @mono/web', '--from @mono/api', '--jobs 2', '--since main'].map((option): [string, string[]] => [`yarn workspaces foreach -A ${option} run reset`, ['mono: dropdb mono', 'mono/apps/site: reset', 'mono/packages/api: dropdb api', 'mono/packages/web: dropdb web']]),
    ["bun --filter '@mono/api' reset", ['mono/packages/api: dropdb api']],
    ['bun run --filter ./packages/web reset', ['mono/packages/web: dropdb web']],
    ["bun -F '@mono/w*' run reset", ['mono/packages/web: dropdb web']],
    ['bun run --workspaces reset', ['mono/packages/api: dropdb api', 'mono/packages/web: dropdb web']],
    ['pnpm --filter db reset', ['pmono/services/db: dropdb db']],
    ['pnpm -F ui reset', ['pmono/services/ui: dropdb ui']],
    ['pnpm --filter-prod=db run reset', ['pmono/services/db: dropdb db']],
    ['pnpm run --filter ./services/ui reset', ['pmono/services/ui: dropdb ui']],
    ['pnpm --filter {services/db} reset', ['pmono/services/db: dropdb db']],
    ['pnpm -r reset', ['pmono/services/db: dropdb db', 'pmono/services/ui: dropdb ui']],
    ['pnpm run --recursive reset', ['pmono/services/db: dropdb db', 'pmono/services/ui: dropdb ui']],
    ['pnpm -r -w reset', ['pmono: dropdb pmono', 'pmono/services/db: dropdb db', 'pmono/services/ui: dropdb ui']],
    ["pnpm --filter '!ui' -r reset", ['pmono/services/db: dropdb db', 'pmono: dropdb pmono']],
    ["pnpm --filter '!ui' --filter '!db' -r reset", ['pmono: dropdb pmono']],
    ['pnpm --filter db... reset', ['pmono: dropdb pmono', 'pmono/services/db: dropdb db', 'pmono/services/ui: dropdb ui']],
    ['pnpm --filter db exec dropdb x', ['pmono/services/db: dropdb x']],
    ['pnpm --filter db add left-pad', []],
  ])('%s', (line, expected) => {
    expect(inWorkspace(line.startsWith('pnpm') ? 'pmono' : 'mono', line)).toEqual(expected);
  });

  it('runs a selector from a package folder against the whole workspace', () => {
    expect(inWorkspace('mono/packages/web', 'npm run reset -w @mono/api')).toEqual(['mono/packages/api: dropdb api']);
    expect(inWorkspace('pmono/services/ui', 'pnpm --filter db reset')).toEqual(['pmono/services/db: dropdb db']);
  });
});
