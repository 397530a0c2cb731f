import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createDefaultRegistry } from '../providers/registry.ts';
import { planEvolutionImport } from './evolution.plan.ts';
import type {
  EvolutionBot,
  EvolutionRelease,
  EvolutionSetting,
  EvolutionSnapshot,
} from './evolution.reader.ts';

const key = () => 'sk-' + randomBytes(12).toString('hex');
const token = () => randomBytes(16).toString('hex').toUpperCase();
const options = {
  providers: createDefaultRegistry(),
  policy: { allowLoopback: true, allowPrivate: false },
  owner: 'ops',
  serverUrl: 'http://evolution:8080',
  instances: null,
};

const BEFORE_2_3: EvolutionRelease = { kind: 'before-2.3', latest: '20250225180031_add_nats_integration' };

const unsetSession = {
  expire: null,
  keywordFinish: null,
  delayMessage: null,
  unknownMessage: null,
  listeningFromMe: null,
  stopBotFromMe: null,
  keepOpen: null,
  debounceTime: null,
  ignoreJids: null,
  splitMessages: null,
  timePerChar: null,
};

function bot(
  id: string,
  instanceId: string,
  credsId: string,
  fields: Partial<EvolutionBot> = {},
): EvolutionBot {
  return {
    id,
    enabled: true,
    description: id,
    botType: 'chatCompletion',
    assistantId: null,
    functionUrl: null,
    model: 'gpt-4o-mini',
    systemMessages: [],
    assistantMessages: [],
    userMessages: [],
    maxTokens: null,
    triggerType: 'all',
    triggerOperator: null,
    triggerValue: null,
    openaiCredsId: credsId,
    instanceId,
    ...unsetSession,
    ...fields,
  };
}

function setting(instanceId: string, fields: Partial<EvolutionSetting> = {}): EvolutionSetting {
  return {
    instanceId,
    openaiCredsId: null,
    openaiIdFallback: null,
    speechToText: false,
    ...unsetSession,
    ...fields,
  };
}

/** Five instances that had to hold five copies of one key (Evolution's unique index forbade sharing). */
function fiveInstancesOneKey(): { snapshot: EvolutionSnapshot; sharedKey: string; tokens: string[] } {
  const sharedKey = key();
  const tokens = [1, 2, 3, 4, 5].map(() => token());
  return {
    sharedKey,
    tokens,
    snapshot: {
      release: BEFORE_2_3,
      instances: tokens.map((value, i) => ({ id: `i${i + 1}`, name: `sales-${i + 1}`, token: value })),
      creds: tokens.map((_, i) => ({
        id: `c${i + 1}`,
        name: `key-${i + 1}`,
        apiKey: sharedKey,
        instanceId: `i${i + 1}`,
      })),
      bots: tokens.map((_, i) => bot(`b${i + 1}`, `i${i + 1}`, `c${i + 1}`, { description: 'Support' })),
      settings: [],
      missingColumns: [],
    },
  };
}

describe('planEvolutionImport', () => {
  it('makes one credential of a key five instances held, used by five bots, each with its channel', () => {
    const { snapshot, sharedKey, tokens } = fiveInstancesOneKey();
    const plan = planEvolutionImport(snapshot, options);
    expect(plan.credentials).toHaveLength(1);
    expect(plan.credentials[0]).toMatchObject({
      name: 'key-1',
      provider: 'openai',
      secret: sharedKey,
      owner: 'ops',
    });
    expect(plan.bots.map((planned) => planned.input.name)).toEqual([
      'sales-1-support',
      'sales-2-support',
      'sales-3-support',
      'sales-4-support',
      'sales-5-support',
    ]);
    expect(new Set(plan.bots.map((planned) => planned.credentialRef))).toEqual(
      new Set([plan.credentials[0]!.ref]),
    );
    expect(plan.bots[2]!.input.channels).toEqual({
      evolution: { serverUrl: 'http://evolution:8080', instance: 'sales-3', apiKey: tokens[2] },
    });
    expect(
      plan.notes.filter((note) => note.message.includes('one credential, key-1, serves both')),
    ).toHaveLength(4);
    const printed = JSON.stringify([plan.notes, plan.skipped]);
    expect(printed).not.toContain(sharedKey);
    for (const value of tokens) expect(printed).not.toContain(value);
  });

  it('maps every trigger and session setting, taking unset ones from the instance settings', () => {
    const plan = planEvolutionImport(
      {
        release: BEFORE_2_3,
        instances: [{ id: 'i1', name: 'shop', token: token() }],
        creds: [{ id: 'c1', name: 'main', apiKey: key(), instanceId: 'i1' }],
        bots: [
          bot('b1', 'i1', 'c1', {
            description: 'Orders',
            systemMessages: ['You sell shoes.', 'Be brief.'],
            assistantMessages: ['Hello! How can I help?'],
            userMessages: ['I am a customer.'],
            maxTokens: 300,
            triggerType: 'keyword',
            triggerOperator: 'startsWith',
            triggerValue: 'order',
            expire: 30,
            keywordFinish: '#stop',
            debounceTime: 5,
            ignoreJids: ['@g.us', '5511999990000@s.whatsapp.net'],
            stopBotFromMe: true,
            splitMessages: true,
            timePerChar: 80,
            keepOpen: true,
          }),
        ],
        settings: [
          setting('i1', {
            unknownMessage: 'Text only, please.',
            listeningFromMe: true,
            delayMessage: 1200,
            expire: 99,
            speechToText: true,
          }),
        ],
        missingColumns: [],
      },
      options,
    );
    expect(plan.bots).toHaveLength(1);
    const { input } = plan.bots[0]!;
    expect(input).toEqual({
      name: 'shop-orders',
      model: 'gpt-4o-mini',
      historyWindow: 10,
      systemPrompt: 'You sell shoes.\n\nBe brief.',
      seedMessages: [
        { role: 'assistant', content: 'Hello! How can I help?' },
        { role: 'user', content: 'I am a customer.' },
      ],
      params: { maxTokens: 300 },
      trigger: { type: 'keyword', operator: 'startsWith', value: 'order', caseSensitive: false },
      keywordFinish: '#stop',
      expireMinutes: 30,
      debounceSeconds: 5,
      ignore: ['*@g.us', '5511999990000@s.whatsapp.net'],
      takeover: { pauseOnFromMe: true, listenFromMe: true },
      split: { enabled: true, delayMs: 1200 },
      unknownMessage: 'Text only, please.',
      images: true,
      speechToText: true,
      channels: {
        evolution: { serverUrl: 'http://evolution:8080', instance: 'shop', apiKey: expect.any(String) },
      },
    });
    const notes = plan.notes.map((note) => note.message).join('\n');
    expect(notes).toContain('timePerChar 80 ms has no equivalent');
    expect(notes).toContain('keepOpen has no equivalent');
    expect(notes).not.toContain('speechToText');
  });

  it('skips assistant bots with the reason, reports advanced triggers, and wires the fallback bot first', () => {
    const plan = planEvolutionImport(
      {
        release: BEFORE_2_3,
        instances: [{ id: 'i1', name: 'desk', token: token() }],
        creds: [{ id: 'c1', name: 'main', apiKey: key(), instanceId: 'i1' }],
        bots: [
          bot('a1', 'i1', 'c1', { description: 'Sales', triggerType: 'advanced', triggerValue: '...' }),
          bot('a2', 'i1', 'c1', {
            description: 'Helper',
            botType: 'assistant',
            assistantId: 'asst_x',
            model: null,
          }),
          bot('a3', 'i1', 'c1', { description: 'Catch all', triggerType: null }),
        ],
        settings: [setting('i1', { openaiIdFallback: 'a3' })],
        missingColumns: ['OpenaiBot.splitMessages'],
      },
      options,
    );
    expect(
      plan.bots.map((planned) => [planned.input.name, planned.fallbackBotName, planned.input.trigger?.type]),
    ).toEqual([
      ['desk-catch-all', null, 'none'],
      ['desk-sales', 'desk-catch-all', 'none'],
    ]);
    expect(plan.skipped).toEqual([
      expect.objectContaining({ kind: 'bot', message: expect.stringContaining('assistant-mode bot') }),
    ]);
    expect(plan.notes.map((note) => note.message).join('\n')).toMatch(
      /"advanced" trigger has no Keyway equivalent/,
    );
    expect(plan.notes.map((note) => note.message).join('\n')).toMatch(/no column OpenaiBot.splitMessages/);
  });

  it('does not import a trigger regex that Keyway would refuse at save (backreferences, lookaround)', () => {
    const plan = planEvolutionImport(
      {
        release: BEFORE_2_3,
        instances: [{ id: 'i1', name: 'desk', token: token() }],
        creds: [{ id: 'c1', name: 'main', apiKey: key(), instanceId: 'i1' }],
        bots: [
          bot('a1', 'i1', 'c1', {
            description: 'Echo',
            triggerType: 'keyword',
            triggerOperator: 'regex',
            triggerValue: '(a)\\1',
          }),
          bot('a2', 'i1', 'c1', {
            description: 'Fine',
            triggerType: 'keyword',
            triggerOperator: 'regex',
            triggerValue: '^(hi|hello)',
          }),
        ],
        settings: [setting('i1')],
        missingColumns: [],
      },
      options,
    );
    expect(plan.bots.map((planned) => planned.input.name)).toEqual(['desk-fine']);
    expect(plan.skipped).toEqual([
      expect.objectContaining({
        kind: 'bot',
        message: expect.stringMatching(/trigger regex cannot be used/),
      }),
    ]);
  });

  it('imports only --instances, says which do not exist, and leaves the channel out on a dry run', () => {
    const { snapshot } = fiveInstancesOneKey();
    const plan = planEvolutionImport(snapshot, {
      ...options,
      instances: ['sales-2', 'sales-9'],
      serverUrl: null,
    });
    expect(plan.bots.map((planned) => planned.input.name)).toEqual(['sales-2-support']);
    expect(plan.credentials.map((credential) => credential.name)).toEqual(['key-2']);
    expect(plan.bots[0]!.input.channels).toBeUndefined();
    expect(plan.skipped.map((skip) => `${skip.origin}: ${skip.message}`)).toEqual([
      'instance sales-9: no such instance (--instances)',
    ]);
  });

  it('imports a "none" trigger as all from Evolution API 2.3 or later, as none before, and says which it saw', () => {
    const snapshot = (release: EvolutionRelease): EvolutionSnapshot => ({
      release,
      instances: [{ id: 'i1', name: 'desk', token: token() }],
      creds: [{ id: 'c1', name: 'main', apiKey: key(), instanceId: 'i1' }],
      bots: [
        bot('n1', 'i1', 'c1', { description: 'Everyone', triggerType: 'none' }),
        bot('u1', 'i1', 'c1', { description: 'Unset', triggerType: null }),
      ],
      settings: [],
      missingColumns: [],
    });
    const triggers = (plan: ReturnType<typeof planEvolutionImport>) =>
      plan.bots.map((planned) => [planned.input.name, planned.input.trigger?.type]);
    const notes = (plan: ReturnType<typeof planEvolutionImport>) =>
      plan.notes.map((note) => `${note.origin}: ${note.message}`).join('\n');

    const recent = planEvolutionImport(
      snapshot({ kind: 'at-least-2.3', migration: '20250514232744_add_n8n_table' }),
      options,
    );
    expect(triggers(recent)).toEqual([
      ['desk-everyone', 'all'],
      ['desk-unset', 'none'],
    ]);
    expect(notes(recent)).toContain(
      'version: Evolution API 2.3 or later (migration 20250514232744_add_n8n_table applied): a bot with trigger "none" answers every message there, so it is imported with trigger all',
    );

    const older = planEvolutionImport(snapshot(BEFORE_2_3), options);
    expect(triggers(older)).toEqual([
      ['desk-everyone', 'none'],
      ['desk-unset', 'none'],
    ]);
    expect(notes(older)).toContain('version: Evolution API before 2.3');

    const unknown = planEvolutionImport(
      snapshot({ kind: 'unknown', reason: 'it has no _prisma_migrations table' }),
      options,
    );
    expect(triggers(unknown)).toEqual(triggers(older));
    expect(notes(unknown)).toContain(
      'the Evolution API version is unknown (it has no _prisma_migrations table): bots with trigger "none" are imported with trigger none; if this was 2.3 or later, they answered every message there: set their trigger to all',
    );
  });

  it("keeps the instance's ignoreJids when a bot has its own list, even an empty one", () => {
    const plan = planEvolutionImport(
      {
        release: BEFORE_2_3,
        instances: [{ id: 'i1', name: 'desk', token: token() }],
        creds: [{ id: 'c1', name: 'main', apiKey: key(), instanceId: 'i1' }],
        bots: [
          bot('a1', 'i1', 'c1', { description: 'Empty', ignoreJids: [] }),
          bot('a2', 'i1', 'c1', {
            description: 'Own',
            ignoreJids: ['5511999990000@s.whatsapp.net', '@g.us'],
          }),
          bot('a3', 'i1', 'c1', { description: 'Unset', ignoreJids: null }),
        ],
        settings: [setting('i1', { ignoreJids: ['@g.us', '5511888880000@s.whatsapp.net'] })],
        missingColumns: [],
      },
      options,
    );
    expect(
      Object.fromEntries(plan.bots.map((planned) => [planned.input.name, planned.input.ignore])),
    ).toEqual({
      'desk-empty': ['*@g.us', '5511888880000@s.whatsapp.net'],
      'desk-own': ['*@g.us', '5511888880000@s.whatsapp.net', '5511999990000@s.whatsapp.net'],
      'desk-unset': ['*@g.us', '5511888880000@s.whatsapp.net'],
    });
  });

  it('says plainly that an instance has one webhook when it gets several bots, and which URL to set', () => {
    const plan = planEvolutionImport(
      {
        release: BEFORE_2_3,
        instances: [
          { id: 'i1', name: 'desk', token: token() },
          { id: 'i2', name: 'shop', token: token() },
          { id: 'i3', name: 'solo', token: token() },
        ],
        creds: [{ id: 'c1', name: 'main', apiKey: key(), instanceId: 'i1' }],
        bots: [
          bot('d1', 'i1', 'c1', { description: 'Help', triggerType: 'keyword', triggerValue: 'help' }),
          bot('d2', 'i1', 'c1', { description: 'Rest', triggerType: null }),
          bot('s1', 'i2', 'c1', { description: 'Buy', triggerType: 'keyword', triggerValue: 'buy' }),
          bot('s2', 'i2', 'c1', { description: 'Sell', triggerType: 'keyword', triggerValue: 'sell' }),
          bot('o1', 'i3', 'c1', { description: 'Only' }),
        ],
        settings: [setting('i1', { openaiIdFallback: 'd2' })],
        missingColumns: [],
      },
      options,
    );
    const notes = plan.notes.map((note) => `${note.origin}: ${note.message}`);
    expect(notes).toContain(
      "instance desk: Evolution API sends an instance's messages to ONE webhook, and 2 bots were planned for it (desk-rest, desk-help), each with its own URL: set desk-help's URL: what its trigger does not match goes to its fallback bot desk-rest; the others receive nothing",
    );
    expect(notes).toContain(
      "instance shop: Evolution API sends an instance's messages to ONE webhook, and 2 bots were planned for it (shop-buy, shop-sell), each with its own URL: only one of shop-buy, shop-sell can receive messages (with its fallback bot): merge their triggers into one bot, or choose one; the others receive nothing",
    );
    expect(notes.filter((note) => note.startsWith('instance solo'))).toEqual([]);
  });
});
