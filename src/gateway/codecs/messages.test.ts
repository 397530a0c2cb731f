import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KeywayError } from '../../errors.ts';
import { SseDecoder } from '../../http/sse.ts';
import type { ChatCompletion, ChatCompletionChunk } from '../openai-types.ts';
import {
  countTokensRequestSchema,
  messagesRequestSchema,
  toAnthropicMessage,
  toChatRequest,
  type MessagesRequest,
  type TranslationTarget,
} from './messages.ts';
import { MessagesStreamEncoder, type MessagesStreamEvent } from './messages-stream.ts';

const openAi: TranslationTarget = { label: 'OpenAI', outputField: 'max_completion_tokens' };
const groq: TranslationTarget = { label: 'Groq', outputField: 'max_tokens' };

function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

/** The events of a recorded SSE stream, as `{type, …data}`. */
function recordedEvents(name: string): Record<string, unknown>[] {
  const decoder = new SseDecoder();
  return [...decoder.push(fixture(name)), ...decoder.end()]
    .filter((event) => event.data !== '[DONE]')
    .map((event) => JSON.parse(event.data) as Record<string, unknown>);
}

function encode(chunks: ChatCompletionChunk[]): MessagesStreamEvent[] {
  const encoder = new MessagesStreamEncoder({ id: 'msg_01test', model: 'work/gpt-4o' });
  return [...chunks.flatMap((chunk) => encoder.push(chunk)), ...encoder.end()];
}

/**
 * A stream's structure: event by event, with the index, block type and delta type; pings left out
 * and a run of deltas to one block counted as one (how finely a model splits its text is its own).
 */
function structure(events: Record<string, unknown>[]): string[] {
  const out: string[] = [];
  for (const event of events) {
    const type = event.type as string;
    if (type === 'ping') continue;
    const block = (event.content_block as { type?: string } | undefined)?.type;
    const delta = (event.delta as { type?: string } | undefined)?.type;
    const line = [type, event.index, block, type === 'content_block_delta' ? delta : undefined]
      .filter((part) => part !== undefined)
      .join(' ');
    if (out.at(-1) !== line || type !== 'content_block_delta') out.push(line);
  }
  return out;
}

/** What the client rebuilds from a stream: per block, its text or its tool's JSON. */
function rebuilt(events: Record<string, unknown>[]): unknown[] {
  const blocks: { type: string; text?: string; json?: string; name?: string }[] = [];
  for (const event of events) {
    if (event.type === 'content_block_start') {
      const block = event.content_block as { type: string; name?: string };
      blocks[event.index as number] =
        block.type === 'text'
          ? { type: 'text', text: '' }
          : { type: block.type, name: block.name!, json: '' };
    }
    if (event.type === 'content_block_delta') {
      const block = blocks[event.index as number]!;
      const delta = event.delta as { text?: string; partial_json?: string };
      if (delta.text !== undefined) block.text += delta.text;
      if (delta.partial_json !== undefined) block.json += delta.partial_json;
    }
  }
  return blocks.map((block) =>
    block.json === undefined ? block : { ...block, json: block.json === '' ? {} : JSON.parse(block.json) },
  );
}

const keys = (value: unknown) => Object.keys(value as object).sort();

/** Our stream and Anthropic's recorded one agree on structure, content, field names and final usage. */
function expectLikeRecorded(ours: MessagesStreamEvent[], recorded: Record<string, unknown>[]): void {
  const mine = ours as unknown as Record<string, unknown>[];
  expect(structure(mine)).toEqual(structure(recorded));
  expect(rebuilt(mine)).toEqual(rebuilt(recorded));
  const pairs = (type: string) => [
    mine.find((e) => e.type === type)!,
    recorded.find((e) => e.type === type)!,
  ];
  const [myStart, theirStart] = pairs('message_start') as { message: Record<string, unknown> }[];
  // Everything Keyway sends is a field Anthropic sends (it adds service_tier and the like).
  for (const key of keys(myStart!.message)) expect(keys(theirStart!.message)).toContain(key);
  for (const key of keys(myStart!.message.usage)) expect(keys(theirStart!.message.usage)).toContain(key);
  const [myDelta, theirDelta] = pairs('message_delta') as { delta: object; usage: object }[];
  expect(keys(myDelta!.delta)).toEqual(keys(theirDelta!.delta));
  expect(myDelta!.delta).toEqual(theirDelta!.delta);
  expect(myDelta!.usage).toEqual(theirDelta!.usage);
  for (const type of ['content_block_start', 'content_block_stop'])
    expect(keys(pairs(type)[0])).toEqual(keys(pairs(type)[1]));
}

describe('Messages stream encoding, compared with recorded Anthropic streams', () => {
  it('encodes a text answer as Anthropic streams it', () => {
    const chunks = recordedEvents('messages-openai-text.sse') as unknown as ChatCompletionChunk[];
    expectLikeRecorded(encode(chunks), recordedEvents('messages-anthropic-text.sse'));
  });

  it('encodes text then parallel tool calls as sequential blocks 0, 1, 2 with stop_reason tool_use', () => {
    const chunks = recordedEvents('messages-openai-parallel-tools.sse') as unknown as ChatCompletionChunk[];
    const events = encode(chunks);
    expectLikeRecorded(events, recordedEvents('messages-anthropic-parallel-tools.sse'));
    const tools = events.flatMap((event) =>
      event.type === 'content_block_start' && event.content_block.type === 'tool_use'
        ? [event.content_block.id]
        : [],
    );
    // The provider's call ids stay: the client sends them back in tool_result blocks.
    expect(tools).toEqual(['call_Kx8dFv2mQ7nLp0RtYw3sZa1B', 'call_Vb5nHq9wEe4Rr2TtUj6kIo7P']);
    expect(events[0]).toMatchObject({
      type: 'message_start',
      message: { id: 'msg_01test', model: 'work/gpt-4o' },
    });
    expect(events.at(-1)).toEqual({ type: 'message_stop' });
  });
});

const base = { id: 'c', object: 'chat.completion.chunk' as const, created: 1, model: 'm' };
const text = (content: string): ChatCompletionChunk => ({
  ...base,
  choices: [{ index: 0, delta: { content }, finish_reason: null }],
});
const call = (index: number, args: string, start?: { id: string; name: string }): ChatCompletionChunk => ({
  ...base,
  choices: [
    {
      index: 0,
      delta: {
        tool_calls: [
          start
            ? { index, id: start.id, type: 'function', function: { name: start.name, arguments: args } }
            : { index, function: { arguments: args } },
        ],
      },
      finish_reason: null,
    },
  ],
});
const finish = (reason: 'stop' | 'tool_calls' | 'length'): ChatCompletionChunk => ({
  ...base,
  choices: [{ index: 0, delta: {}, finish_reason: reason }],
});

describe('MessagesStreamEncoder', () => {
  it('holds back interleaved argument fragments of parallel calls until the open call is complete', () => {
    const events = encode([
      call(0, '', { id: 'call_a', name: 'get_weather' }),
      call(1, '', { id: 'call_b', name: 'get_time' }),
      call(0, '{"city":'),
      call(1, '{"zone":'),
      call(1, '"UTC"}'),
      call(0, '"Paris"}'),
      finish('tool_calls'),
    ]);
    expect(structure(events as unknown as Record<string, unknown>[])).toEqual([
      'message_start',
      'content_block_start 0 tool_use',
      'content_block_delta 0 input_json_delta',
      'content_block_stop 0',
      'content_block_start 1 tool_use',
      'content_block_delta 1 input_json_delta',
      'content_block_stop 1',
      'message_delta',
      'message_stop',
    ]);
    expect(rebuilt(events as unknown as Record<string, unknown>[])).toEqual([
      { type: 'tool_use', name: 'get_weather', json: { city: 'Paris' } },
      { type: 'tool_use', name: 'get_time', json: { zone: 'UTC' } },
    ]);
  });

  it('streams a call as soon as the one before it is complete, and text after a call as a new block', () => {
    const encoder = new MessagesStreamEncoder({ id: 'msg_01x', model: 'm' });
    encoder.push(call(0, '{"a":1}', { id: 'call_a', name: 'one' }));
    // The second call starts: the first is whole JSON, so its block closes and the second opens at once.
    const second = encoder.push(call(1, '{"b":', { id: 'call_b', name: 'two' }));
    expect(second.map((event) => event.type)).toEqual([
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
    ]);
    const after = [...encoder.push(call(1, '2}')), ...encoder.push(text('Done.')), ...encoder.end()];
    expect(structure(after as unknown as Record<string, unknown>[])).toEqual([
      'content_block_delta 1 input_json_delta',
      'content_block_stop 1',
      'content_block_start 2 text',
      'content_block_delta 2 text_delta',
      'content_block_stop 2',
      'message_delta',
      'message_stop',
    ]);
    expect(after.find((event) => event.type === 'message_delta')).toMatchObject({
      delta: { stop_reason: 'tool_use' },
    });
  });

  it('maps finish reasons and ends a stream without chunks with a whole, empty message', () => {
    expect(encode([text('Hi'), finish('length')]).find((e) => e.type === 'message_delta')).toMatchObject({
      delta: { stop_reason: 'max_tokens', stop_sequence: null },
    });
    expect(encode([]).map((event) => event.type)).toEqual(['message_start', 'message_delta', 'message_stop']);
  });

  it('reports cached input as cache_read_input_tokens, apart from input_tokens', () => {
    const usage: ChatCompletionChunk = {
      ...base,
      choices: [],
      usage: {
        prompt_tokens: 120,
        completion_tokens: 7,
        total_tokens: 127,
        prompt_tokens_details: { cached_tokens: 100 },
      },
    };
    expect(encode([text('x'), finish('stop'), usage]).find((e) => e.type === 'message_delta')).toMatchObject({
      usage: {
        input_tokens: 20,
        cache_read_input_tokens: 100,
        cache_creation_input_tokens: 0,
        output_tokens: 7,
      },
    });
  });
});

describe('toAnthropicMessage', () => {
  const completion = (message: ChatCompletion['choices'][number]['message'], finish: 'stop' | 'tool_calls') =>
    ({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o',
      choices: [{ index: 0, message, finish_reason: finish }],
      usage: {
        prompt_tokens: 30,
        completion_tokens: 5,
        total_tokens: 35,
        prompt_tokens_details: { cached_tokens: 10 },
      },
    }) satisfies ChatCompletion;

  it('answers text and tool calls as content blocks, with the client model name and usage', () => {
    const message = toAnthropicMessage(
      completion(
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            { id: 'call_2', type: 'function', function: { name: 'broken', arguments: '{"cut": ' } },
          ],
        },
        'tool_calls',
      ),
      'msg_01a',
      'work/gpt-4o',
    );
    expect(message).toEqual({
      id: 'msg_01a',
      type: 'message',
      role: 'assistant',
      model: 'work/gpt-4o',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
        // Anthropic's input is always an object: cut-off arguments are kept verbatim under a key.
        { type: 'tool_use', id: 'call_2', name: 'broken', input: { _raw_arguments: '{"cut": ' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: {
        input_tokens: 20,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 10,
        output_tokens: 5,
      },
    });
  });

  it('says tool_use when a provider ends a tool-calling turn with stop, end_turn otherwise', () => {
    const call = { id: 'c', type: 'function' as const, function: { name: 'f', arguments: '{}' } };
    expect(
      toAnthropicMessage(
        completion({ role: 'assistant', content: null, tool_calls: [call] }, 'stop'),
        'm',
        'x',
      ).stop_reason,
    ).toBe('tool_use');
    expect(
      toAnthropicMessage(completion({ role: 'assistant', content: 'Hi' }, 'stop'), 'm', 'x'),
    ).toMatchObject({
      stop_reason: 'end_turn',
      content: [{ type: 'text', text: 'Hi' }],
    });
  });
});

function request(body: Record<string, unknown>): MessagesRequest {
  return messagesRequestSchema.parse({ model: 'work/gpt-4o', max_tokens: 100, ...body });
}

describe('messagesRequestSchema', () => {
  it('requires max_tokens and names the field of the first problem', () => {
    const missing = messagesRequestSchema.safeParse({
      model: 'm',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(missing.error?.issues[0]?.path).toEqual(['max_tokens']);
    const image = messagesRequestSchema.safeParse({
      model: 'm',
      max_tokens: 5,
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', data: 'x' } }] }],
    });
    expect(image.error?.issues[0]?.path).toEqual(['messages', 0, 'content', 0, 'source', 'media_type']);
    // count_tokens needs no max_tokens.
    expect(
      countTokensRequestSchema.safeParse({ model: 'm', messages: [{ role: 'user', content: 'Hi' }] }).success,
    ).toBe(true);
  });

  it('keeps fields and block types it does not know, for the pass-through', () => {
    const parsed = request({
      messages: [
        {
          role: 'user',
          content: [{ type: 'search_result', source: 'x', cache_control: { type: 'ephemeral' } }],
        },
      ],
      context_management: { edits: [] },
    });
    expect(parsed).toMatchObject({
      context_management: { edits: [] },
      messages: [{ content: [{ type: 'search_result', cache_control: { type: 'ephemeral' } }] }],
    });
  });
});

describe('toChatRequest', () => {
  it('translates system blocks, images, tool use and results (images in results move to a user message), dropping thinking', () => {
    const chat = toChatRequest(
      request({
        system: [
          { type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } },
          { type: 'text', text: 'Answer in French.' },
        ],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Weather here?' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0K' } },
              { type: 'image', source: { type: 'url', url: 'https://example.com/a.jpg' } },
            ],
          },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'Two lookups.', signature: 'sig' },
              { type: 'text', text: 'Looking.' },
              { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
              { type: 'tool_use', id: 'toolu_2', name: 'screenshot', input: {} },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny', is_error: false },
              {
                type: 'tool_result',
                tool_use_id: 'toolu_2',
                is_error: true,
                content: [
                  { type: 'text', text: 'partial' },
                  { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4A' } },
                ],
              },
              { type: 'text', text: 'Thanks' },
            ],
          },
        ],
        tools: [
          { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: {} } },
        ],
        tool_choice: { type: 'any', disable_parallel_tool_use: true },
        stop_sequences: ['END'],
        temperature: 0.5,
        top_k: 5,
        metadata: { user_id: 'u-1' },
        thinking: { type: 'enabled', budget_tokens: 1024 },
        stream: true,
      }),
      openAi,
    );
    expect(chat).toEqual({
      model: 'work/gpt-4o',
      max_completion_tokens: 100,
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.5,
      stop: ['END'],
      user: 'u-1',
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather',
            parameters: { type: 'object', properties: {} },
          },
        },
      ],
      tool_choice: 'required',
      parallel_tool_calls: false,
      messages: [
        { role: 'system', content: 'Be brief.\nAnswer in French.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather here?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0K' } },
            { type: 'image_url', image_url: { url: 'https://example.com/a.jpg' } },
          ],
        },
        {
          role: 'assistant',
          content: 'Looking.',
          tool_calls: [
            {
              id: 'toolu_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            { id: 'toolu_2', type: 'function', function: { name: 'screenshot', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'Sunny' },
        { role: 'tool', tool_call_id: 'toolu_2', content: 'Error: partial' },
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4A' } },
            { type: 'text', text: 'Thanks' },
          ],
        },
      ],
    });
  });

  it('sends max_tokens to other providers, a specific tool choice as a function, and drops a thinking-only turn', () => {
    const chat = toChatRequest(
      request({
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: [{ type: 'redacted_thinking', data: 'xyz' }] },
          { role: 'user', content: 'Again' },
        ],
        tools: [{ name: 'f', input_schema: { type: 'object' } }],
        tool_choice: { type: 'tool', name: 'f' },
      }),
      groq,
    );
    expect(chat).toMatchObject({
      max_tokens: 100,
      tool_choice: { type: 'function', function: { name: 'f' } },
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'user', content: 'Again' },
      ],
    });
    expect(chat).not.toHaveProperty('stream');
    expect(chat).not.toHaveProperty('parallel_tool_calls');
  });

  it('refuses what only Anthropic can run, naming the provider and the field', () => {
    const attempt = (body: Record<string, unknown>) => {
      try {
        toChatRequest(request(body), groq);
      } catch (error) {
        return error as KeywayError;
      }
      throw new Error('expected a refusal');
    };
    const serverTool = attempt({
      messages: [{ role: 'user', content: 'Hi' }],
      tools: [{ type: 'web_search_20250305', name: 'web_search' }],
    });
    expect([serverTool.code, serverTool.status, serverTool.message]).toEqual([
      'upstream_unsupported',
      400,
      'tools.0: server tools such as "web_search_20250305" reach Anthropic models only; Groq cannot take them.',
    ]);
    const block = attempt({
      messages: [{ role: 'user', content: [{ type: 'search_result', source: 'x' }] }],
    });
    expect(block.message).toContain('messages.0.content.0: content blocks of type "search_result"');
  });
});
