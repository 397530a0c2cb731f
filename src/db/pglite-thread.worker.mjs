// The embedded database's own thread: PGlite runs here so that its work (every write, every commit's
// file I/O) never blocks the event loop that serves requests. Plain JavaScript: worker threads start
// without the TypeScript loader.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

// pgvector (bundled, ~60 ms to load at every open) is loaded only for a database that uses it. Two
// files in the PGlite directory say which: `keyway-pgvector` is written before the extension is ever
// created (so a crash after CREATE EXTENSION still loads it next time), `keyway-no-pgvector` when a
// database without it was looked at. A directory with neither (made before these files existed) is
// looked at once.
const USES_PGVECTOR = join(dataDir, 'keyway-pgvector');
const NO_PGVECTOR = join(dataDir, 'keyway-no-pgvector');
// The buffer pool is sized by what the database holds. PGlite zeroes all of it at every open: its
// default 128 MB took ~330 ms more to open than 32 MB on a 2-core machine. 32 MB holds the working set
// of chats, bots and usage; a database with knowledge bases (the one that uses pgvector) keeps the
// default, where HNSW searches over tens of thousands of chunks ran 15–20 % faster than with 32 MB.
const SMALL_SHARED_BUFFERS = '32MB';
const options = (withVector) => ({
  parsers: TYPE_PARSERS,
  extensions: withVector ? { vector } : {},
  ...(withVector
    ? {}
    : { startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SMALL_SHARED_BUFFERS}`] }),
});

let db;
let vectorLoaded = false;

async function open() {
  vectorLoaded = existsSync(USES_PGVECTOR);
  db = await PGlite.create(dataDir, options(vectorLoaded));
  if (vectorLoaded || existsSync(NO_PGVECTOR)) return;
  const { rows } = await db.query(`SELECT 1 FROM pg_extension WHERE extname = 'vector'`);
  if (rows.length > 0) await loadVector();
  else writeFileSync(NO_PGVECTOR, 'this database has no pgvector extension: PGlite opens without it\n');
}

/** Reopens the database with pgvector loaded (what creating or using the extension needs). */
async function loadVector() {
  if (vectorLoaded) return;
  writeFileSync(USES_PGVECTOR, 'this database uses the pgvector extension: PGlite loads it at open\n');
  rmSync(NO_PGVECTOR, { force: true });
  await db.close();
  try {
    db = await PGlite.create(dataDir, options(true));
  } catch (error) {
    // The database stays usable without it: retrieval reports the failure, everything else goes on.
    db = await PGlite.create(dataDir, options(false));
    throw error;
  }
  vectorLoaded = true;
}

try {
  await open();
  parentPort.postMessage({ ready: true });
} catch (error) {
  parentPort.postMessage({ ready: false, error: serialize(error) });
}

async function handle(message) {
  try {
    if (message.op === 'query') {
      const result = await db.query(message.sql, message.params);
      parentPort.postMessage({ id: message.id, rows: result.rows, affectedRows: result.affectedRows });
    } else if (message.op === 'exec') {
      await db.exec(message.sql);
      parentPort.postMessage({ id: message.id });
    } else if (message.op === 'load-vector') {
      await loadVector();
      parentPort.postMessage({ id: message.id });
    } else if (message.op === 'close') {
      await db.close();
      parentPort.postMessage({ id: message.id });
    }
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: serialize(error) });
  }
}

// One message at a time, in order: a reopen never overlaps a statement.
let queue = Promise.resolve();
parentPort.on('message', (message) => {
  queue = queue.then(() => handle(message));
});
