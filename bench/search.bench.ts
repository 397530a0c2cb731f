// The sidebar search (issue 16: `GET /api/conversations?q=` stays fast at 100,000 messages; goal p95
// ≤ 100 ms on PGlite and on PostgreSQL). One user with BENCH_SEARCH_MESSAGES (100,000) messages over
// BENCH_SEARCH_CONVERSATIONS (2,000) conversations, and as many again spread over four other users
// (their words match too, and must be passed over). Text is generated from a vocabulary with a Zipf-like
// spread of word frequencies, short questions and longer answers, so common words match nearly every
// conversation and rare ones a handful. Each timed query is the list query with the search clause of
// src/chat/conversation-search.ts (full-text GIN index); beside it, its peer on the same database: the
// same list with the former clause (ILIKE over every message of the user).
// In `npm run bench` (BENCH_ONLY=search), or standalone: `node --import tsx bench/search.bench.ts`.
// BENCH_DATABASE_URL names the PostgreSQL server (default: the test server's postgres database).
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type ExpressionBuilder } from 'kysely';
import { conversationMatches } from '../src/chat/conversation-search.ts';
import { openDatabase, type Database } from '../src/db/database.ts';
import { admin, migrate, percentile, silent, timed } from './bench-database.ts';
import type { DB } from '../src/db/tables.ts';

export const SEARCH_GOAL_MS = 100;

export interface SearchResult {
  database: 'PGlite' | 'PostgreSQL';
  messages: number;
  otherMessages: number;
  conversations: number;
  queries: number;
  seedMs: number;
  p50: number;
  p95: number;
  worst: { query: string; ms: number };
  peerP50: number;
  peerP95: number;
}

/** Deterministic: the same text every run. */
export function generator(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMMON = (
  'the of and to a in is it you that for on with as this be are was can have not or by your an if ' +
  'will we use from at but how what which when there more can one all so do about would also some'
).split(' ');
const TOPICAL = (
  'deploy kubernetes cluster container docker image registry database postgres index query table ' +
  'migration schema backup restore python function class module package import typescript react ' +
  'component state hook render server request response header cookie session token password user ' +
  'account invoice budget quarter revenue forecast marketing campaign email newsletter recipe flour ' +
  'butter oven garden tomato holiday flight hotel museum train ticket weather forecast lisbon porto ' +
  'berlin paris tokyo physics energy velocity gravity orbit planet telescope chemistry molecule enzyme ' +
  'protein history empire revolution treaty election parliament novel chapter character poem rhyme ' +
  'guitar chord melody tempo football league match striker training fitness protein running marathon'
).split(' ');

/** Words for a message: mostly common ones, a topic's words, and now and then a rare made-up one. */
function textOf(random: () => number, words: number, topic: number): string {
  const out: string[] = [];
  for (let index = 0; index < words; index++) {
    const roll = random();
    if (roll < 0.6) out.push(COMMON[Math.floor(random() ** 2 * COMMON.length)]!);
    else if (roll < 0.97) out.push(TOPICAL[(topic * 7 + Math.floor(random() ** 1.5 * 24)) % TOPICAL.length]!);
    else out.push(`w${Math.floor(random() * 200_000).toString(36)}`);
  }
  const sentence = out.join(' ');
  return `${sentence[0]!.toUpperCase()}${sentence.slice(1)}.`;
}

export async function seedUser(
  database: Database,
  username: string,
  conversations: number,
  messages: number,
  random: () => number,
): Promise<string> {
  const db = database.db;
  const userId = randomUUID();
  await db
    .insertInto('users')
    .values({ id: userId, username, password_hash: 'x', role: 'member' } as never)
    .execute();
  const perConversation = Math.max(2, Math.round(messages / conversations));
  const start = Date.parse('2025-01-01T00:00:00Z');
  let rows: DB['chat_messages'][] = [];
  const flush = async () => {
    if (rows.length)
      await db
        .insertInto('chat_messages')
        .values(rows as never)
        .execute();
    rows = [];
  };
  for (let c = 0; c < conversations; c++) {
    const id = randomUUID();
    const topic = Math.floor(random() * 40);
    const at = new Date(start + c * 3_600_000);
    await db
      .insertInto('chat_conversations')
      .values({
        id,
        owner_id: userId,
        title: textOf(random, 3 + Math.floor(random() * 4), topic).slice(0, 80),
        model: 'gpt-4o-mini',
        created_at: at,
        updated_at: at,
      } as never)
      .execute();
    let parent: string | null = null;
    for (let m = 0; m < perConversation; m++) {
      const messageId = randomUUID();
      const user = m % 2 === 0;
      rows.push({
        id: messageId,
        conversation_id: id,
        parent_id: parent,
        role: user ? 'user' : 'assistant',
        content: textOf(
          random,
          user ? 8 + Math.floor(random() * 30) : 40 + Math.floor(random() * 160),
          topic,
        ),
        model: 'gpt-4o-mini',
        error_code: null,
        error_message: null,
        created_at: new Date(at.getTime() + m * 30_000),
      } as never);
      parent = messageId;
      if (rows.length >= 1_000) await flush();
    }
  }
  await flush();
  return userId;
}

/** The search before the index: ILIKE over every message (the peer). */
function formerMatches(eb: ExpressionBuilder<DB & { c: DB['chat_conversations'] }, 'c'>, search: string) {
  const pattern = `%${search.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
  return eb.or([
    eb('c.title', 'ilike', pattern),
    eb.exists(
      eb
        .selectFrom('chat_messages as m')
        .select(sql`1`.as('one'))
        .whereRef('m.conversation_id', '=', 'c.id')
        .where('m.content', 'ilike', pattern),
    ),
  ]);
}

/** The sidebar's list with a search, as the conversations repository asks for it. */
function listQuery(database: Database, ownerId: string, search: string, former: boolean) {
  return database.db
    .selectFrom('chat_conversations as c')
    .select(['c.id', 'c.title', 'c.updated_at'])
    .where('c.owner_id', '=', ownerId)
    .where((eb) => (former ? formerMatches(eb, search) : conversationMatches(eb, search)))
    .orderBy('c.pinned', 'desc')
    .orderBy('c.updated_at', 'desc')
    .orderBy('c.id')
    .limit(500)
    .execute();
}

/** What people type: a very common word, topic words, word beginnings, two words, rare and absent words. */
const SEARCHES = [
  'the',
  'kubernetes',
  'deploy',
  'lisbon',
  'marath',
  'pro',
  'docker image',
  'oven butter',
  'w3f',
  'w1abc',
  'nothingmatchesthis',
  'Forecast',
];

async function run(database: Database, kind: SearchResult['database']): Promise<SearchResult> {
  const messages = Number(process.env.BENCH_SEARCH_MESSAGES ?? 100_000);
  const conversations = Number(process.env.BENCH_SEARCH_CONVERSATIONS ?? 2_000);
  const rounds = Number(process.env.BENCH_SEARCH_ROUNDS ?? 5);
  const random = generator(16);
  const [seedMs, ownerId] = await timed(async () => {
    const owner = await seedUser(database, 'bench', conversations, messages, random);
    for (let other = 0; other < 4; other++)
      await seedUser(database, `other${other}`, conversations / 4, messages / 4, random);
    await sql`ANALYZE`.execute(database.db);
    return owner;
  });
  // Warm-up: plans and caches.
  for (const search of SEARCHES) {
    await listQuery(database, ownerId, search, false);
    await listQuery(database, ownerId, search, true);
  }
  const times: number[] = [];
  const peerTimes: number[] = [];
  let worst = { query: '', ms: 0 };
  for (let round = 0; round < rounds; round++) {
    for (const search of SEARCHES) {
      const [ms, found] = await timed(() => listQuery(database, ownerId, search, false));
      times.push(ms);
      if (ms > worst.ms) worst = { query: `${search} (${found.length} found)`, ms };
      peerTimes.push((await timed(() => listQuery(database, ownerId, search, true)))[0]);
    }
  }
  return {
    database: kind,
    messages,
    otherMessages: messages,
    conversations,
    queries: times.length,
    seedMs,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    worst,
    peerP50: percentile(peerTimes, 50),
    peerP95: percentile(peerTimes, 95),
  };
}

/** Both databases, side by side. */
export async function searchBenchmark(): Promise<SearchResult[]> {
  const results: SearchResult[] = [];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-bench-search-'));
  const embedded = await openDatabase({ kind: 'embedded', dataDir }, { purpose: 'bench' });
  try {
    await migrate(embedded);
    results.push(await run(embedded, 'PGlite'));
  } finally {
    await embedded.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }

  const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `kw_bench_${randomBytes(6).toString('hex')}`;
  await admin(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const postgres = await openDatabase({ kind: 'postgres', url: url.toString() }, { purpose: 'bench' });
  try {
    await migrate(postgres);
    results.push(await run(postgres, 'PostgreSQL'));
  } finally {
    await postgres.close();
    await admin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  return results;
}

/** The results as a Markdown table. */
export function formatSearchReport(results: readonly SearchResult[]): string {
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  const lines = [
    '| database | messages (user + others) | conversations | queries | seed | indexed search p50 / p95 | slowest | ILIKE peer p50 / p95 | goal |',
    '|---|---:|---:|---:|---:|---:|---|---:|---|',
  ];
  for (const result of results) {
    const met = result.p95 <= SEARCH_GOAL_MS ? 'met' : 'MISSED';
    lines.push(
      `| ${result.database} | ${result.messages.toLocaleString('en')} + ${result.otherMessages.toLocaleString('en')} | ${result.conversations.toLocaleString('en')} | ${result.queries} | ${(result.seedMs / 1000).toFixed(0)} s | ${ms(result.p50)} / ${ms(result.p95)} | ${result.worst.query}: ${ms(result.worst.ms)} | ${ms(result.peerP50)} / ${ms(result.peerP95)} | p95 ≤ ${SEARCH_GOAL_MS} ms ${met} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(formatSearchReport(await searchBenchmark()));
}
