/** Writes an export's document in a worker thread (see `writeDocumentInWorker`): rows in, counts out. */
import { parentPort, workerData } from 'node:worker_threads';
import type { DatabaseTarget } from '../config/database-url.js';
import { engineFor } from '../engines/index.js';
import { errorData } from '../errors.js';
import { type DocumentInput, writeDocument } from './export-document.js';

const { target, file, input } = workerData as { target: DatabaseTarget; file: string; input: DocumentInput };

try {
  const written = await engineFor(target).readSnapshot((rows) => writeDocument(rows, file, input));
  parentPort!.postMessage({ ok: true, written });
} catch (error) {
  parentPort!.postMessage({ ok: false, error: errorData(error) });
}
