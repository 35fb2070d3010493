/** `2026-11-22T05:10:03.123Z` -> `20261122T051003Z` */
export function compactTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/** Lowercase ASCII words joined by dashes, at most 48 characters. */
export function slugify(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/, '');
}

/** Candidate ids in order: `<db>-<timestamp>[-<label>]`, then `-2`, `-3`... before the label. */
export function* backupIdCandidates(database: string, createdAt: Date, label: string | undefined): Generator<string> {
  const base = `${slugify(database) || 'database'}-${compactTimestamp(createdAt)}`;
  const suffix = label ? slugify(label) : '';
  for (let n = 1; ; n++) {
    const counter = n === 1 ? '' : `-${n}`;
    yield suffix ? `${base}${counter}-${suffix}` : `${base}${counter}`;
  }
}
