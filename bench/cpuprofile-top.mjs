// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by package.
// Usage: node bench/cpuprofile-top.mjs <file.cpuprofile> [rows]
import { readFileSync } from 'node:fs';

const profile = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const rows = Number(process.argv[3] ?? 15);
const interval = (profile.endTime - profile.startTime) / profile.samples.length / 1000; // ms per sample
const hits = new Map(profile.nodes.map((n) => [n.id, 0]));
for (const id of profile.samples) hits.set(id, hits.get(id) + 1);

const byFunction = new Map();
const byPackage = new Map();
for (const node of profile.nodes) {
  const ms = hits.get(node.id) * interval;
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url.replace(/^file:\/\//, '');
  const key = `${functionName || '(anonymous)'} ${where ? `${where.split('/').slice(-2).join('/')}:${lineNumber + 1}` : ''}`.trim();
  byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where)?.[1] ?? (where.startsWith('node:') ? 'node core' : where ? 'dbguard' : functionName);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
}
const total = (profile.endTime - profile.startTime) / 1000;
const print = (title, map) => {
  console.log(`\n${title} (of ${total.toFixed(0)} ms wall)`);
  for (const [name, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, rows)) console.log(`${ms.toFixed(0).padStart(8)} ms  ${name}`);
};
print('self time by package', byPackage);
print('self time by function', byFunction);
