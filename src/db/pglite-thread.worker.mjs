// The embedded database's own thread: PGlite runs here so that its work (every write, every commit's
// file I/O) never blocks the event loop that serves requests. Plain JavaScript: worker threads start
// without the TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { TYPE_PARSERS } from './type-parsers.mjs';

const ERROR_FIELDS = [
  'name',
  'code',
  'severity',
  'detail',
  'hint',
  'position',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'routine',
];

/** An error as plain data: its message and PostgreSQL's fields (never the query's parameters). */
function serialize(error) {
  const out = { message: error instanceof Error ? error.message : String(error) };
  for (const field of ERROR_FIELDS) if (error && error[field] !== undefined) out[field] = error[field];
  return out;
}

// A thread started ahead of time (prestartPGliteThread) has loaded PGlite by now, and learns which
// directory to open only once its owner holds that directory's lock.
const dataDir =
  workerData.dataDir ??
  (await new Promise((resolve) => parentPort.once('message', (message) => resolve(message.open))));

let db;
try {
  // pgvector is loaded, not created: retrieval creates the extension at its first use (vector-index.ts).
  db = await PGlite.create(dataDir, { parsers: TYPE_PARSERS, extensions: { vector } });
  parentPort.postMessage({ ready: true });
} catch (error) {
  parentPort.postMessage({ ready: false, error: serialize(error) });
}

parentPort.on('message', async (message) => {
  try {
    if (message.op === 'query') {
      const result = await db.query(message.sql, message.params);
      parentPort.postMessage({ id: message.id, rows: result.rows, affectedRows: result.affectedRows });
    } else if (message.op === 'exec') {
      await db.exec(message.sql);
      parentPort.postMessage({ id: message.id });
    } else if (message.op === 'close') {
      await db.close();
      parentPort.postMessage({ id: message.id });
    }
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: serialize(error) });
  }
});
