import { createRequire } from 'node:module';
import path from 'node:path';
import { DbguardError } from './errors.js';

/** The Node.js major versions dbguard is tested on (CI); package.json's `engines` says the same. */
export const SUPPORTED_NODE_MAJORS = [20, 22, 24] as const;

/** One line for a start on a Node.js dbguard is not tested on; undefined on a supported one. */
export function unsupportedNodeMessage(version: string): string | undefined {
  const major = Number(version.replace(/^v/, '').split('.')[0]);
  if ((SUPPORTED_NODE_MAJORS as readonly number[]).includes(major)) return undefined;
  return `warning: dbguard supports Node.js ${SUPPORTED_NODE_MAJORS.join(', ')}; this is Node.js ${version.replace(/^v?/, 'v')}, on which it is not tested.`;
}

/** The native addons dbguard uses, and what a user loses without each. */
export const NATIVE_MODULES = {
  'better-sqlite3': 'SQLite support',
  'zstd-napi': 'zstd compression',
} as const;
export type NativeModule = keyof typeof NATIVE_MODULES;

/** Whether `error` says a native addon's compiled file is missing or was built for another Node.js. */
export function isNativeLoadError(error: unknown): boolean {
  const { code, message = '' } = (error ?? {}) as { code?: string; message?: string };
  return (
    code === 'ERR_DLOPEN_FAILED' ||
    /Could not locate the bindings file|NODE_MODULE_VERSION|did not self-register|Cannot find module '[^']*\.node'|No native build was found/.test(message)
  );
}

/** The folder whose node_modules holds `name` (where `npm rebuild` must run); undefined when it cannot be found. */
export function installFolder(name: NativeModule): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve(name);
    const marker = `${path.sep}node_modules${path.sep}${name}${path.sep}`;
    const at = entry.lastIndexOf(marker);
    return at < 0 ? undefined : entry.slice(0, at);
  } catch {
    return undefined;
  }
}

/** The command that builds `name` for the running Node.js, install scripts allowed for this one run. */
export function nativeFixCommand(name: NativeModule, folder = installFolder(name)): string {
  const rebuild = `npm rebuild ${name} --ignore-scripts=false`;
  return folder === undefined ? rebuild : `cd ${shellQuote(folder)} && ${rebuild}`;
}

/** What is wrong with the addon, in a few words. */
export function nativeProblem(error: unknown): string {
  const message = (error as { message?: string })?.message ?? '';
  return /NODE_MODULE_VERSION|did not self-register/.test(message)
    ? `was built for another Node.js version than this one (${process.version})`
    : 'was not built (install scripts blocked, or no compiler)';
}

export const ALLOW_SCRIPTS_HINT =
  'The build needs python3, make and a C++ compiler. To let every install build them, allow their install scripts: ' +
  '`npm install-scripts approve better-sqlite3 zstd-napi`, or "allowScripts": {"better-sqlite3": true, "zstd-napi": true} ' +
  'in package.json (README: "Installation").';

/** One line naming the lost feature, the addon and the exact fix command; the hint says how to keep it fixed. */
export function nativeModuleError(name: NativeModule, error: unknown): DbguardError {
  return new DbguardError(`${NATIVE_MODULES[name]} is unavailable: ${name}'s native module ${nativeProblem(error)}. Fix: ${nativeFixCommand(name)}`, {
    hint: ALLOW_SCRIPTS_HINT,
    cause: error,
  });
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
