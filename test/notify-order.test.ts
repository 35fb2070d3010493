import { afterEach, describe, expect, it } from 'vitest';
import { type Notification, Notifier, resolveChannels } from '../src/notify/index.js';
import { httpReceiver } from './harness/receivers.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

function notification(event: Notification['event']): Notification {
  return { event, database: 'shop', display: 'file:shop.db', newestGood: null, command: 'dbguard status', at: new Date(0).toISOString() };
}

describe('notification order', () => {
  it('a channel receives its notifications in order: a retried one is not overtaken by the next', async () => {
    const slack = await httpReceiver({ failFirst: 1 });
    closers.push(slack.close);
    const notifier = new Notifier(resolveChannels([{ type: 'slack', url: `${slack.url}/services/T/B/X`, on: ['failure', 'stale'] }], {}), {
      retryDelaysMs: [100],
    });
    const [failure, stale] = await Promise.all([notifier.notify(notification('failure')), notifier.notify(notification('stale'))]);
    expect(failure.map((r) => [r.ok, r.attempts])).toEqual([[true, 2]]);
    expect(stale.map((r) => [r.ok, r.attempts])).toEqual([[true, 1]]);
    expect(slack.requests.map((r) => (JSON.parse(r.body) as { text: string }).text.split('\n')[0])).toEqual([
      '*dbguard: shop: backup FAILED*',
      '*dbguard: shop: backups are STALE*',
    ]);
  });
});
