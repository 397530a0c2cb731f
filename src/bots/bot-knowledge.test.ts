import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import type { Citation, Grounder, GroundingRequest } from '../knowledge/grounding.ts';
import { BotKnowledge, questionOf, sourcesLine } from './bot-knowledge.ts';
import { evolutionWebhookSchema, readEvolutionEvent } from './channels/evolution-payload.ts';

const owner: Principal = { userId: 'u1', username: '', role: 'member', via: 'bot', botId: 'b1' };
const log = pino({ level: 'silent' });
const citation = (fileName: string, page: number | null, headings: string[] = []): Citation => ({
  n: 1,
  passageId: 'c1',
  knowledgeBaseId: 'kb',
  fileId: 'f',
  fileName,
  page,
  headings,
});

describe('sourcesLine', () => {
  it('names the sources the reply cites, numbered as in the reply, with a page or the innermost heading', () => {
    const citations = [
      { ...citation('guide.pdf', 37), n: 1 },
      { ...citation('faq.md', null, ['FAQ', 'Returns']), n: 2 },
      { ...citation('notes.txt', null), n: 3 },
      { ...citation('unused.md', null), n: 4 },
    ];
    expect(sourcesLine(citations, 'Within 45 days [2], see the guide [1][3].')).toBe(
      'Sources: [1] guide.pdf p. 37; [2] faq.md (Returns); [3] notes.txt',
    );
    expect(sourcesLine(citations, 'No citation here.')).toBeNull();
    expect(sourcesLine([], 'See [1].')).toBeNull();
  });
});

describe('questionOf', () => {
  it('is the last user message, text parts joined, images left out', () => {
    expect(
      questionOf([
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'reply' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
            { type: 'text', text: 'this?' },
          ],
        },
      ]),
    ).toBe('what is\nthis?');
    expect(questionOf([{ role: 'system', content: 'x' }])).toBe('');
  });
});

describe('BotKnowledge', () => {
  const setup = (readable: Set<string>, grounder?: (request: GroundingRequest) => void) => {
    const requests: GroundingRequest[] = [];
    const fake: Grounder = {
      async ground(_principal, request) {
        requests.push(request);
        grounder?.(request);
        return { context: 'ctx', citations: [] };
      },
      passage: async () => undefined,
    };
    const knowledge = new BotKnowledge({
      grounder: () => fake,
      bases: { readable: async (_principal, id) => readable.has(id) },
      defaultTokenBudget: 4000,
    });
    return { knowledge, requests };
  };

  it('searches only the knowledge bases the owner can still read, with the bot budget or the default', async () => {
    const { knowledge, requests } = setup(new Set(['a', 'c']));
    const settings = { knowledgeBaseIds: ['a', 'b', 'c'], retrievalTokenBudget: null };
    expect(await knowledge.ground(owner, settings, 'question', { log })).toEqual({
      context: 'ctx',
      citations: [],
    });
    await knowledge.ground(owner, { ...settings, retrievalTokenBudget: 900 }, 'question', { log });
    expect(requests).toEqual([
      { knowledgeBaseIds: ['a', 'c'], fileIds: [], question: 'question', tokenBudget: 4000 },
      { knowledgeBaseIds: ['a', 'c'], fileIds: [], question: 'question', tokenBudget: 900 },
    ]);
  });

  it('asks nothing without knowledge bases, without a question, or when none is readable', async () => {
    const { knowledge, requests } = setup(new Set());
    const none = { context: null, citations: [] };
    expect(
      await knowledge.ground(owner, { knowledgeBaseIds: [], retrievalTokenBudget: null }, 'q', { log }),
    ).toEqual(none);
    expect(
      await knowledge.ground(owner, { knowledgeBaseIds: ['a'], retrievalTokenBudget: null }, ' ', { log }),
    ).toEqual(none);
    expect(
      await knowledge.ground(owner, { knowledgeBaseIds: ['a'], retrievalTokenBudget: null }, 'q', { log }),
    ).toEqual(none);
    expect(requests).toEqual([]);
  });

  it('searches again without a knowledge base lost between the check and the search', async () => {
    const readable = new Set(['a', 'b']);
    const { knowledge, requests } = setup(readable, (request) => {
      if (request.knowledgeBaseIds.includes('b')) {
        readable.delete('b');
        throw new KeywayError('not_found', 'No such knowledge base.');
      }
    });
    await knowledge.ground(owner, { knowledgeBaseIds: ['a', 'b'], retrievalTokenBudget: null }, 'q', { log });
    expect(requests.map((request) => request.knowledgeBaseIds)).toEqual([['a', 'b'], ['a']]);
  });

  it('refuses to save an id the owner cannot read, naming the field', async () => {
    const { knowledge } = setup(new Set(['a']));
    await expect(knowledge.check(owner, ['a', 'z'])).rejects.toMatchObject({
      code: 'not_found',
      details: { field: 'knowledgeBaseIds.1' },
    });
  });
});

describe('Evolution media in messages.upsert', () => {
  const read = (message: Record<string, unknown>) =>
    readEvolutionEvent(
      evolutionWebhookSchema.parse({
        event: 'messages.upsert',
        instance: 'shop',
        data: { key: { remoteJid: '1@s.whatsapp.net', fromMe: false, id: 'M1' }, message },
      }),
    );

  it('reads an image with its caption and the base64 Evolution adds with "webhook base64"', () => {
    const event = read({
      imageMessage: { caption: 'this one?', mimetype: 'image/jpeg' },
      base64: Buffer.from('jpeg bytes').toString('base64'),
    });
    expect(event).toMatchObject({
      kind: 'message',
      message: { text: 'this one?', externalId: 'M1', media: { kind: 'image', mimeType: 'image/jpeg' } },
    });
    if (event.kind !== 'message') throw new Error('not a message');
    expect(Buffer.from(event.message.media!.bytes!).toString()).toBe('jpeg bytes');
  });

  it('reads a voice note without its bytes (fetched later), and text as before', () => {
    expect(read({ audioMessage: { mimetype: 'audio/ogg; codecs=opus', ptt: true } })).toMatchObject({
      message: { text: null, media: { kind: 'audio', mimeType: 'audio/ogg; codecs=opus', bytes: null } },
    });
    expect(read({ conversation: 'hello' })).toMatchObject({ message: { text: 'hello', media: null } });
  });
});
