import { describe, expect, it } from 'vitest';
import { createDefaultRegistry } from '../providers/registry.ts';
import type { ChatbotUiChat, ChatbotUiHistory } from './chatbot-ui-history.reader.ts';
import { planChatbotUiImport } from './chatbot-ui.plan.ts';
import type { ChatbotUiSnapshot } from './chatbot-ui.reader.ts';

const options = {
  providers: createDefaultRegistry(),
  policy: { allowLoopback: true, allowPrivate: false },
  ownerMap: new Map<string, string>(),
  maxFileBytes: 1024 * 1024,
};

const snapshot: ChatbotUiSnapshot = {
  profiles: [
    {
      userId: 'u-alice',
      username: 'alice',
      values: { openai_api_key: 'sk-alice', anthropic_api_key: 'sk-ant' },
    },
    { userId: 'u-bad', username: 'no good', values: {} },
  ],
  models: [
    {
      id: 'm1',
      userId: 'u-alice',
      name: 'Local Llama',
      modelId: 'llama3',
      baseUrl: 'http://127.0.0.1:11434/v1',
      apiKey: 'sk-local',
    },
  ],
  files: [],
  collections: [],
  missingColumns: [],
  hasModelsTable: true,
};

function chat(partial: Partial<ChatbotUiChat> & { id: string }): ChatbotUiChat {
  return {
    userId: 'u-alice',
    workspaceId: 'w-home',
    folderId: null,
    assistantId: null,
    name: 'Chat',
    model: 'gpt-4o',
    prompt: '',
    temperature: 0.5,
    contextLength: 4096,
    createdAt: null,
    updatedAt: null,
    messages: [],
    fileIds: [],
    ...partial,
  };
}

function history(partial: Partial<ChatbotUiHistory>): ChatbotUiHistory {
  return {
    workspaces: [{ id: 'w-home', userId: 'u-alice', name: 'Home', isHome: true }],
    folders: [],
    chats: [],
    prompts: [],
    presets: [],
    assistants: [],
    orphanMessages: 0,
    missingTables: [],
    ...partial,
  };
}

describe('planChatbotUiHistory (through planChatbotUiImport)', () => {
  it('strips NUL from what PostgreSQL cannot store, drops system messages, and names each model by the credential serving it', () => {
    const plan = planChatbotUiImport(snapshot, {
      ...options,
      history: history({
        chats: [
          chat({
            id: 'c1',
            name: 'Line\u0000one\nand two',
            prompt: 'Be\u0000 brief',
            messages: [
              {
                id: 'm1',
                chatId: 'c1',
                role: 'user',
                content: 'hi\u0000there',
                model: 'gpt-4o',
                sequenceNumber: 0,
                createdAt: null,
                images: 0,
              },
              {
                id: 'm2',
                chatId: 'c1',
                role: 'system',
                content: 'tool',
                model: 'gpt-4o',
                sequenceNumber: 1,
                createdAt: null,
                images: 0,
              },
              {
                id: 'm3',
                chatId: 'c1',
                role: 'assistant',
                content: 'hello',
                model: 'claude-3-haiku-20240307',
                sequenceNumber: 2,
                createdAt: null,
                images: 0,
              },
            ],
          }),
          chat({ id: 'c2', name: '   ', model: 'llama3' }),
          chat({ id: 'c3', model: 'some-unknown-model' }),
        ],
        orphanMessages: 2,
      }),
    });
    const [first, second, third] = plan.history!.conversations;
    expect(first).toMatchObject({
      title: 'Lineone and two',
      systemPrompt: 'Be brief',
      folderRef: 'workspace:w-home',
    });
    expect(first!.messages.map((message) => [message.role, message.content])).toEqual([
      ['user', 'hithere'],
      ['assistant', 'hello'],
    ]);
    const alicesCredential = (provider: string) =>
      plan.credentials.find((credential) => credential.owner === 'alice' && credential.provider === provider)!
        .ref;
    expect(first!.model).toEqual({ credentialRef: alicesCredential('openai'), model: 'gpt-4o' });
    expect(first!.messages[1]!.model).toEqual({
      credentialRef: alicesCredential('anthropic'),
      model: 'claude-3-haiku-20240307',
    });
    // A custom model is served by the credential its base URL and key became.
    expect(second!.model).toEqual({ credentialRef: alicesCredential('openai-compatible'), model: 'llama3' });
    expect(second!.title).toBe('Imported chat');
    expect(third!.model).toEqual({ credentialRef: null, model: 'some-unknown-model' });

    const said = [...plan.notes, ...plan.skipped].map((note) => `${note.origin}: ${note.message}`).join('\n');
    expect(said).toMatch(/1 message\(s\) with a role other than user or assistant/);
    expect(said).toMatch(/2 message\(s\) name a chat that is not in the database/);
    expect(said).toMatch(/no imported credential serves some-unknown-model/);
  });

  it('reports what belongs to a profile that maps to no Keyway user; assistants get names unique per owner', () => {
    const settings = { description: '', model: 'gpt-4o', prompt: 'Help', temperature: 0.2, contextLength: 0 };
    const plan = planChatbotUiImport(snapshot, {
      ...options,
      history: history({
        workspaces: [
          { id: 'w-home', userId: 'u-alice', name: 'Home', isHome: true },
          { id: 'w-bad', userId: 'u-bad', name: 'Home', isHome: true },
        ],
        chats: [
          chat({ id: 'c1', userId: 'u-bad', workspaceId: 'w-bad' }),
          chat({ id: 'c2', userId: 'u-gone' }),
        ],
        prompts: [{ id: 'p1', userId: 'u-bad', name: 'P', content: 'x' }],
        assistants: [
          { id: 'a1', userId: 'u-alice', name: 'Helper', ...settings, collectionIds: ['col-1'] },
          { id: 'a2', userId: 'u-alice', name: 'helper', ...settings, collectionIds: [] },
        ],
      }),
    });
    expect(plan.history!.conversations).toEqual([]);
    expect(plan.history!.prompts).toEqual([]);
    expect(plan.history!.assistants.map((assistant) => assistant.name)).toEqual(['Helper', 'helper-2']);
    // A context length of 0 means "the model's": no limit of Keyway's.
    expect(plan.history!.assistants[0]!.contextTokens).toBeNull();
    expect(plan.skipped.map((note) => `${note.origin}: ${note.message}`)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^profile no good: 1 folder\(s\), 1 conversation\(s\), 1 prompt\(s\) not imported/,
        ),
        expect.stringMatching(
          /^Chatbot-UI user u-gone: 1 conversation\(s\) not imported: no profile is theirs/,
        ),
      ]),
    );
    expect(plan.notes.map((note) => note.message).join('\n')).toMatch(
      /1 collection\(s\) of assistants were not imported as knowledge bases/,
    );
  });

  it("never gives one owner's chat another owner's file, folder or assistant", () => {
    const plan = planChatbotUiImport(
      {
        ...snapshot,
        profiles: [...snapshot.profiles, { userId: 'u-bob', username: 'bob', values: {} }],
        files: [{ id: 'f-alice', userId: 'u-alice', name: 'secret.txt', chunks: ['alice only'] }],
      },
      {
        ...options,
        history: history({
          folders: [
            { id: 'd-alice', userId: 'u-alice', workspaceId: 'w-home', name: 'Private', type: 'chats' },
          ],
          assistants: [
            {
              id: 'a-alice',
              userId: 'u-alice',
              name: 'Mine',
              description: '',
              model: 'gpt-4o',
              prompt: '',
              temperature: 1,
              contextLength: 4096,
              collectionIds: [],
            },
          ],
          chats: [
            chat({
              id: 'c-bob',
              userId: 'u-bob',
              workspaceId: 'w-home',
              folderId: 'd-alice',
              assistantId: 'a-alice',
              fileIds: ['f-alice'],
            }),
          ],
        }),
      },
    );
    const [bobs] = plan.history!.conversations;
    expect(bobs!.owner).toBe('bob');
    expect(bobs).toMatchObject({ fileRefs: [], folderRef: null, assistantRef: null });
    expect(plan.history!.folders.map((folder) => folder.owner)).toEqual(['alice', 'alice']);
  });
});
