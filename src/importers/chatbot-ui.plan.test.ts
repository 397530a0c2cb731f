import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createDefaultRegistry } from '../providers/registry.ts';
import { planChatbotUiImport } from './chatbot-ui.plan.ts';
import type { ChatbotUiProfile, ChatbotUiSnapshot } from './chatbot-ui.reader.ts';

const key = (prefix: string) => prefix + randomBytes(12).toString('hex');
const options = {
  providers: createDefaultRegistry(),
  policy: { allowLoopback: true, allowPrivate: false },
  ownerMap: new Map<string, string>(),
  maxFileBytes: 1024 * 1024,
};

function profile(username: string, values: ChatbotUiProfile['values']): ChatbotUiProfile {
  return { userId: `uid-${username}`, username, values };
}

function snapshot(partial: Partial<ChatbotUiSnapshot>): ChatbotUiSnapshot {
  return {
    profiles: [],
    models: [],
    files: [],
    collections: [],
    missingColumns: [],
    hasModelsTable: true,
    ...partial,
  };
}

describe('planChatbotUiImport', () => {
  it('plans a user per profile and a credential per non-empty key column, with its settings', () => {
    const openai = key('sk-');
    const anthropic = key('sk-ant-');
    const azure = key('');
    const plan = planChatbotUiImport(
      snapshot({
        profiles: [
          profile('alice', {
            openai_api_key: openai,
            openai_organization_id: 'org-alice',
            anthropic_api_key: anthropic,
            google_gemini_api_key: null,
            mistral_api_key: null,
            azure_openai_api_key: azure,
            azure_openai_endpoint: 'https://alice.openai.azure.com',
            azure_openai_35_turbo_id: 'gpt35',
            azure_openai_45_turbo_id: 'gpt4',
          }),
          profile('bob', { openai_api_key: null }),
        ],
      }),
      options,
    );
    expect(plan.users.map((user) => user.username)).toEqual(['alice', 'bob']);
    expect(
      plan.credentials.map(({ owner, name, provider, settings, secret }) => ({
        owner,
        name,
        provider,
        settings,
        secret,
      })),
    ).toEqual([
      {
        owner: 'alice',
        name: 'openai',
        provider: 'openai',
        settings: { organization: 'org-alice' },
        secret: openai,
      },
      { owner: 'alice', name: 'anthropic', provider: 'anthropic', settings: {}, secret: anthropic },
      {
        owner: 'alice',
        name: 'azure-openai',
        provider: 'azure-openai',
        settings: { endpoint: 'https://alice.openai.azure.com', apiVersion: '2024-10-21' },
        secret: azure,
      },
    ]);
    const deployments = plan.notes.find((note) => note.origin.includes('azure deployments'));
    expect(deployments?.message).toContain('GPT-3.5 Turbo: azure-openai/gpt35');
    expect(deployments?.message).toContain('GPT-4 Turbo: azure-openai/gpt4');
    // No secret is ever part of what the report prints.
    const printed = JSON.stringify([plan.notes, plan.skipped, plan.credentials.map((c) => c.origin)]);
    for (const secret of [openai, anthropic, azure]) expect(printed).not.toContain(secret);
  });

  it('reports the key columns a Chatbot-UI version lacks instead of failing', () => {
    const plan = planChatbotUiImport(
      snapshot({
        profiles: [profile('old', { openai_api_key: key('sk-') })],
        missingColumns: ['groq_api_key', 'openrouter_api_key', 'azure_openai_embeddings_id'],
        hasModelsTable: false,
      }),
      options,
    );
    expect(plan.credentials).toHaveLength(1);
    expect(plan.notes.map((note) => note.message).join('\n')).toMatch(
      /no column groq_api_key, openrouter_api_key, azure_openai_embeddings_id[\s\S]*no custom models table/,
    );
  });

  it('skips an Azure key without an endpoint and a profile whose username Keyway cannot take', () => {
    const plan = planChatbotUiImport(
      snapshot({
        profiles: [
          profile('carol', { azure_openai_api_key: key(''), azure_openai_endpoint: null }),
          profile('bad name!', { openai_api_key: key('sk-') }),
        ],
      }),
      options,
    );
    expect(plan.credentials).toEqual([]);
    expect(plan.users.map((user) => user.username)).toEqual(['carol']);
    expect(plan.skipped.map((skip) => skip.message).join('\n')).toMatch(/without azure_openai_endpoint/);
    expect(plan.skipped.map((skip) => skip.message).join('\n')).toMatch(/--owner-map bad name!=NAME/);
  });

  it('maps owners with --owner-map, merging two profiles into one Keyway user', () => {
    const plan = planChatbotUiImport(
      snapshot({
        profiles: [
          profile('user3f9a', { openai_api_key: key('sk-') }),
          profile('alice', { openai_api_key: key('sk-') }),
        ],
      }),
      { ...options, ownerMap: new Map([['user3f9a', 'alice']]) },
    );
    expect(plan.users.map((user) => user.username)).toEqual(['alice']);
    expect(plan.credentials.map((credential) => `${credential.owner}/${credential.name}`)).toEqual([
      'alice/openai',
      'alice/openai-2',
    ]);
  });

  it('turns custom models into openai-compatible credentials, one per distinct base URL and key', () => {
    const shared = key('');
    const plan = planChatbotUiImport(
      snapshot({
        profiles: [profile('dave', {})],
        models: [
          {
            id: 'm1',
            userId: 'uid-dave',
            name: 'Llama 3',
            modelId: 'llama3',
            baseUrl: 'http://127.0.0.1:11434/v1',
            apiKey: shared,
          },
          {
            id: 'm2',
            userId: 'uid-dave',
            name: 'Qwen',
            modelId: 'qwen2',
            baseUrl: 'http://127.0.0.1:11434/v1/',
            apiKey: shared,
          },
          {
            id: 'm3',
            userId: 'uid-dave',
            name: 'Local',
            modelId: 'x',
            baseUrl: 'http://127.0.0.1:8000/v1',
            apiKey: null,
          },
          {
            id: 'm4',
            userId: 'uid-nobody',
            name: 'Orphan',
            modelId: 'y',
            baseUrl: 'http://127.0.0.1:1/v1',
            apiKey: null,
          },
          {
            id: 'm5',
            userId: 'uid-dave',
            name: 'Metadata',
            modelId: 'z',
            baseUrl: 'http://169.254.169.254/v1',
            apiKey: null,
          },
        ],
      }),
      options,
    );
    expect(
      plan.credentials.map(({ name, provider, settings, secret }) => ({ name, provider, settings, secret })),
    ).toEqual([
      {
        name: 'llama-3',
        provider: 'openai-compatible',
        settings: { baseUrl: 'http://127.0.0.1:11434/v1' },
        secret: shared,
      },
      {
        name: 'local',
        provider: 'openai-compatible',
        settings: { baseUrl: 'http://127.0.0.1:8000/v1' },
        secret: null,
      },
    ]);
    expect(plan.notes.map((note) => note.message)).toContain(
      'call it as llama-3/qwen2 (shares credential llama-3: same base URL and key)',
    );
    expect(plan.skipped.map((skip) => `${skip.origin}: ${skip.message}`).join('\n')).toMatch(
      /Orphan.*no imported profile[\s\S]*Metadata.*not allowed/,
    );
  });

  describe('files and collections', () => {
    const people = [profile('alice', {}), profile('bob', {})];
    const files = [
      { id: 'f1', userId: 'uid-alice', name: 'Handbook.pdf', chunks: ['Chapter one.', 'Chapter two.'] },
      { id: 'f2', userId: 'uid-alice', name: 'notes.md', chunks: ['# Notes'] },
      { id: 'f3', userId: 'uid-alice', name: 'scan.png', chunks: [] },
      { id: 'f4', userId: 'uid-bob', name: 'bob.txt', chunks: ['Bob only.'] },
      { id: 'f5', userId: 'uid-nobody', name: 'orphan.txt', chunks: ['text'] },
    ];
    const collections = [
      // f4 is Bob's: it never joins Alice's knowledge base, whatever collection_files says.
      { id: 'c1', userId: 'uid-alice', name: 'Docs', fileIds: ['f1', 'f2', 'f3', 'f4'] },
      { id: 'c2', userId: 'uid-alice', name: 'Docs', fileIds: ['f2'] },
    ];

    it('imports the text of every file; with --embedding-model each collection is a knowledge base of its owner’s files', () => {
      const plan = planChatbotUiImport(snapshot({ profiles: people, files, collections }), {
        ...options,
        embeddingModel: 'openai/text-embedding-3-small',
      });
      expect(plan.files!.map((file) => [file.owner, file.name, file.mediaType, file.text])).toEqual([
        ['alice', 'Handbook.pdf.txt', 'text/plain', 'Chapter one.\n\nChapter two.'],
        ['alice', 'notes.md', 'text/markdown', '# Notes'],
        ['bob', 'bob.txt', 'text/plain', 'Bob only.'],
      ]);
      expect(plan.knowledgeBases).toEqual([
        expect.objectContaining({ owner: 'alice', name: 'Docs', fileRefs: ['f1', 'f2'] }),
        expect.objectContaining({ owner: 'alice', name: 'Docs-2', fileRefs: ['f2'] }),
      ]);
      expect(plan.knowledgeBases![0]!.embeddingModel).toBe('openai/text-embedding-3-small');
      const skipped = plan.skipped.map((note) => `${note.origin}: ${note.message}`).join('\n');
      expect(skipped).toMatch(/file "scan.png" of alice: Chatbot-UI holds no text/);
      expect(skipped).toMatch(/file "orphan.txt": its owner has no imported profile/);
      expect(plan.notes.map((note) => note.message).join('\n')).toMatch(/2 of its 4 file\(s\) had nothing/);
    });

    it('without --embedding-model, files are imported and each collection is skipped with the fix', () => {
      const plan = planChatbotUiImport(snapshot({ profiles: people, files, collections }), options);
      expect(plan.files).toHaveLength(3);
      expect(plan.knowledgeBases).toEqual([]);
      expect(plan.skipped.filter((note) => note.kind === 'knowledge base')).toEqual([
        expect.objectContaining({ message: expect.stringMatching(/--embedding-model CREDENTIAL\/MODEL/) }),
        expect.objectContaining({ message: expect.stringMatching(/--embedding-model/) }),
      ]);
    });

    it('a text larger than the file size limit is skipped, not cut', () => {
      const big = [{ id: 'f9', userId: 'uid-alice', name: 'big.txt', chunks: ['x'.repeat(2000)] }];
      const plan = planChatbotUiImport(snapshot({ profiles: people, files: big }), {
        ...options,
        maxFileBytes: 1000,
      });
      expect(plan.files).toEqual([]);
      expect(plan.skipped[0]!.message).toMatch(/larger than the file size limit \(1000 bytes/);
    });
  });
});
