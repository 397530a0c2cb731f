import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KeywayError } from '../../errors.ts';
import { SseDecoder } from '../../http/sse.ts';
import type { ChatCompletion, ChatCompletionChunk } from '../openai-types.ts';
import { ResponseEventEncoder, type ResponseStreamEvent } from './responses-events.ts';
import { outputAsInput, responseFromCompletion, responseShell } from './response-object.ts';
import { inputItems, responsesRequestSchema, toChatRequest, type ResponsesRequest } from './responses.ts';

/*
 * The fixtures in fixtures/responses/ follow the format of OpenAI's own Responses API streams and
 * objects as recorded from the live API (event order, fields, indexes, numbering); ids and text are
 * made up. The encoder's sequences are compared with them event by event.
 */
const FIXTURES = new URL('./fixtures/responses/', import.meta.url);
const fixtureText = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');

function recordedEvents(name: string): ResponseStreamEvent[] {
  const decoder = new SseDecoder();
  const events = [...decoder.push(fixtureText(name)), ...decoder.end()];
  return events.map((event) => {
    const data = JSON.parse(event.data) as ResponseStreamEvent;
    expect(event.event).toBe(data.type);
    return data;
  });
}

const request = (fields: Partial<ResponsesRequest> & Record<string, unknown> = {}): ResponsesRequest =>
  responsesRequestSchema.parse({ model: 'claude/claude-sonnet-4-5', input: 'Hi', ...fields });

const anthropic = { providerLabel: 'Anthropic', maxTokensField: 'max_tokens' } as const;

function failure(run: () => unknown): KeywayError {
  try {
    run();
  } catch (error) {
    if (error instanceof KeywayError) return error;
    throw error;
  }
  throw new Error('expected a KeywayError');
}

/** The tool of the recorded function-call fixtures. */
const weatherTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
};

let ids = 0;
const newId = (prefix: string) => `${prefix}_${String(++ids).padStart(4, '0')}`;

function chunk(
  delta: ChatCompletionChunk['choices'][number]['delta'],
  finish: ChatCompletionChunk['choices'][number]['finish_reason'] = null,
): ChatCompletionChunk {
  return {
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
}

function usageChunk(prompt: number, completion: number, cached = 0): ChatCompletionChunk {
  return {
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [],
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: cached },
    },
  };
}

/** Runs the encoder over chunks the way the service does, to the terminal event. */
function encode(chunks: ChatCompletionChunk[], fields: Record<string, unknown> = {}): ResponseStreamEvent[] {
  const encoder = new ResponseEventEncoder(responseShell(request(fields), 'resp_test', 1766400000), newId);
  const events = [...encoder.start()];
  for (const piece of chunks) events.push(...encoder.push(piece));
  const { events: closing, response } = encoder.finish(1766400001);
  return [...events, ...closing, encoder.terminal(response)];
}

/** What must agree with a recording: order, types, indexes, numbering. */
const skeleton = (events: ResponseStreamEvent[]) =>
  events.map((event) => [event.type, event.sequence_number, event.output_index, event.content_index]);

// Fields the live API sends that a translated response cannot fill truthfully (caching keys, safety
// identifiers, per-tool accounting): absent from Keyway's objects on purpose.
const NOT_TRANSLATED = new Set(['prompt_cache_key', 'safety_identifier', 'top_logprobs', 'verbosity']);
// Fields Keyway adds to an event: `name` on arguments.done (the SDK's type has it), the flat fields of
// `error` (OpenAI's reference documents them; its API nests them).
const ADDED = new Set(['name', 'code', 'message', 'param']);

/** Differences in shape between an event of ours and a recorded one: missing fields, other types. */
function shapeDifferences(ours: unknown, recorded: unknown, path = ''): string[] {
  if (recorded === null || ours === null) return [];
  if (typeof recorded !== typeof ours || Array.isArray(recorded) !== Array.isArray(ours))
    return [`${path}: ${typeof ours} instead of ${typeof recorded}`];
  if (Array.isArray(recorded))
    return recorded.length && (ours as unknown[]).length
      ? shapeDifferences((ours as unknown[])[0], recorded[0], `${path}[0]`)
      : [];
  if (typeof recorded !== 'object') return [];
  const mine = ours as Record<string, unknown>;
  const theirs = recorded as Record<string, unknown>;
  const differences: string[] = [];
  for (const key of Object.keys(theirs))
    if (!(key in mine)) {
      if (!NOT_TRANSLATED.has(key)) differences.push(`${path}.${key}: missing`);
    } else differences.push(...shapeDifferences(mine[key], theirs[key], `${path}.${key}`));
  for (const key of Object.keys(mine))
    if (!(key in theirs) && !ADDED.has(key)) differences.push(`${path}.${key}: not in the recording`);
  return differences;
}

describe('the Responses codec: requests', () => {
  it('reads a string input as one user message', () => {
    expect(inputItems('Hello')).toEqual([{ type: 'message', role: 'user', content: 'Hello' }]);
  });

  it('translates items, instructions, tools and settings into one chat request', () => {
    const body = request({
      instructions: 'Be brief.',
      input: [
        { role: 'developer', content: 'Answer in French.' },
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is this?' },
            { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' },
          ],
        },
        {
          type: 'message',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Let me check.', annotations: [] }],
        },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call', call_id: 'call_2', name: 'get_time', arguments: '{}' },
        { type: 'reasoning', id: 'rs_1', summary: [] },
        { type: 'function_call_output', call_id: 'call_1', output: 'Sunny' },
        { type: 'function_call_output', call_id: 'call_2', output: [{ type: 'input_text', text: 'Noon' }] },
      ],
      tools: [
        {
          type: 'function',
          name: 'get_weather',
          description: 'Weather',
          parameters: { type: 'object' },
          strict: true,
        },
        { type: 'function', name: 'get_time' },
      ],
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: false,
      max_output_tokens: 300,
      temperature: 0.2,
      top_p: 0.9,
      text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true } },
      reasoning: { effort: 'low' },
      metadata: { run: '7' },
      stream: true,
    });
    expect(toChatRequest(body, inputItems(body.input), anthropic)).toEqual({
      model: 'claude/claude-sonnet-4-5',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: 'Answer in French.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
          ],
        },
        {
          role: 'assistant',
          content: 'Let me check.',
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'Sunny' },
        { role: 'tool', tool_call_id: 'call_2', content: 'Noon' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 300,
      temperature: 0.2,
      top_p: 0.9,
      reasoning_effort: 'low',
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather',
            parameters: { type: 'object' },
            strict: true,
          },
        },
        { type: 'function', function: { name: 'get_time' } },
      ],
      parallel_tool_calls: false,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'answer', schema: { type: 'object' }, strict: true },
      },
    });
  });

  it('caps output with max_completion_tokens for OpenAI and maps json_object', () => {
    const body = request({ max_output_tokens: 50, text: { format: { type: 'json_object' } } });
    expect(
      toChatRequest(body, inputItems(body.input), {
        providerLabel: 'OpenAI',
        maxTokensField: 'max_completion_tokens',
      }),
    ).toMatchObject({ max_completion_tokens: 50, response_format: { type: 'json_object' } });
  });

  it('starts a function call turn of its own when no assistant text precedes it', () => {
    const body = request({
      input: [
        { role: 'user', content: 'Weather?' },
        { type: 'function_call', call_id: 'c1', name: 'w', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: 'rain' },
      ],
    });
    expect(toChatRequest(body, inputItems(body.input), anthropic).messages).toEqual([
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'w', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'rain' },
    ]);
  });

  it('refuses tools only OpenAI has, naming the tool type and the provider', () => {
    const error = failure(() =>
      toChatRequest(
        request({ tools: [{ type: 'function', name: 'f' }, { type: 'web_search' }] }),
        inputItems('Hi'),
        anthropic,
      ),
    );
    expect(error.code).toBe('upstream_unsupported');
    expect(error.status).toBe(400);
    expect(error.message).toContain('"web_search"');
    expect(error.message).toContain('Anthropic');
    expect(error.details?.param).toBe('tools[1].type');
  });

  it('refuses item types and parts it cannot translate, naming where', () => {
    const reference = failure(() => inputItems([{ type: 'item_reference', id: 'msg_1' }]));
    expect([reference.code, reference.details?.param]).toEqual(['upstream_unsupported', 'input[0].type']);
    expect(reference.message).toContain('"item_reference"');
    const badPart = failure(() =>
      inputItems([{ role: 'user', content: [{ type: 'input_audio', data: 'x' }] }]),
    );
    expect([badPart.code, badPart.details?.param]).toEqual(['invalid_request', 'input[0].content[0].type']);
    const noCallId = failure(() => inputItems([{ type: 'function_call_output', output: 'x' }]));
    expect(noCallId.details?.param).toBe('input[0].call_id');
    const badRole = failure(() => inputItems([{ role: 'tool', content: 'x' }]));
    expect(badRole.details?.param).toBe('input[0].role');
    const fileImage = failure(() =>
      toChatRequest(
        request(),
        inputItems([{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }]),
        anthropic,
      ),
    );
    expect(fileImage.message).toContain('file_id');
  });

  it('refuses what refers to objects stored by OpenAI, and an empty input', () => {
    expect(
      failure(() => toChatRequest(request({ background: true }), inputItems('Hi'), anthropic)).details?.param,
    ).toBe('background');
    expect(
      failure(() => toChatRequest(request({ conversation: 'conv_1' }), inputItems('Hi'), anthropic)).details
        ?.param,
    ).toBe('conversation');
    expect(failure(() => toChatRequest(request({ input: [] }), [], anthropic)).details?.param).toBe('input');
    expect(
      failure(() =>
        toChatRequest(request({ tool_choice: { type: 'file_search' } }), inputItems('Hi'), anthropic),
      ).code,
    ).toBe('upstream_unsupported');
  });
});

describe('the Responses codec: whole responses', () => {
  const completion = (
    message: ChatCompletion['choices'][number]['message'],
    finish: ChatCompletion['choices'][number]['finish_reason'] = 'stop',
  ): ChatCompletion => ({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, message, finish_reason: finish }],
    usage: {
      prompt_tokens: 12,
      completion_tokens: 9,
      total_tokens: 21,
      prompt_tokens_details: { cached_tokens: 4 },
    },
  });

  it('answers a text completion as a Response shaped like the recorded one', () => {
    const response = responseFromCompletion(
      responseShell(request({ input: 'Hi' }), 'resp_1', 1766400000),
      completion({ role: 'assistant', content: 'Hello there, how can I help?' }),
      { newId, completedAt: 1766400001 },
    );
    expect(response).toMatchObject({
      id: 'resp_1',
      object: 'response',
      status: 'completed',
      model: 'claude/claude-sonnet-4-5',
      output: [
        {
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: 'Hello there, how can I help?', annotations: [] }],
        },
      ],
      usage: {
        input_tokens: 12,
        input_tokens_details: { cached_tokens: 4 },
        output_tokens: 9,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 21,
      },
    });
    expect(shapeDifferences(response, JSON.parse(fixtureText('response-text.json')))).toEqual([]);
  });

  it('answers tool calls as function_call items after any text, and a cut-off answer as incomplete', () => {
    const tools = [weatherTool];
    const calls = responseFromCompletion(
      responseShell(request({ tools }), 'resp_2', 1),
      completion(
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'toolu_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        'tool_calls',
      ),
      { newId, completedAt: 2 },
    );
    expect(calls.output).toEqual([
      {
        id: expect.stringMatching(/^fc_/),
        type: 'function_call',
        status: 'completed',
        arguments: '{"city":"Paris"}',
        call_id: 'toolu_1',
        name: 'get_weather',
      },
    ]);
    expect(shapeDifferences(calls, JSON.parse(fixtureText('response-function-call.json')))).toEqual([]);
    const cut = responseFromCompletion(
      responseShell(request(), 'resp_3', 1),
      completion({ role: 'assistant', content: 'Once upon' }, 'length'),
      { newId, completedAt: 2 },
    );
    expect(cut).toMatchObject({
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      output: [{ status: 'incomplete' }],
    });
  });

  it('echoes the request as OpenAI does: metadata, settings, function tools with strict defaulting to true', () => {
    const shell = responseShell(
      request({
        metadata: { run: '1' },
        temperature: 0.5,
        instructions: 'Be brief.',
        tools: [{ type: 'function', name: 'f' }],
      }),
      'resp_5',
      1,
    );
    expect(shell).toMatchObject({
      metadata: { run: '1' },
      temperature: 0.5,
      top_p: null,
      instructions: 'Be brief.',
      store: true,
      tools: [{ type: 'function', name: 'f', description: null, parameters: null, strict: true }],
      tool_choice: 'auto',
      text: { format: { type: 'text' } },
    });
  });

  it('replays a response output as the next turn input', () => {
    const response = responseFromCompletion(
      responseShell(request(), 'resp_4', 1),
      completion({
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'w', arguments: '{}' } }],
      }),
      { newId, completedAt: 2 },
    );
    const replayed = outputAsInput(response.output);
    expect(replayed).toEqual([
      {
        type: 'message',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'Checking.', annotations: [] }],
      },
      { type: 'function_call', call_id: 'c1', name: 'w', arguments: '{}' },
    ]);
    // What was replayed reads back as valid input.
    expect(inputItems(replayed as unknown[])).toEqual(replayed);
  });
});

describe('the Responses codec: streamed events', () => {
  it('streams text as the recorded sequence: lifecycle, item, part, deltas, done events, completed with usage', () => {
    const events = encode([
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'Hello' }),
      chunk({ content: ' there' }),
      chunk({ content: ', how can I help?' }),
      chunk({}, 'stop'),
      usageChunk(12, 9),
    ]);
    const recorded = recordedEvents('stream-text.sse');
    expect(skeleton(events)).toEqual(skeleton(recorded));
    events.forEach((event, index) =>
      expect(shapeDifferences(event, recorded[index]), event.type).toEqual([]),
    );
    const completed = events.at(-1)!.response as Record<string, any>;
    expect(completed.output[0].content[0].text).toBe('Hello there, how can I help?');
    expect(completed.usage).toEqual(
      recorded.at(-1)!.response && (recorded.at(-1)!.response as Record<string, unknown>).usage,
    );
    // Every event names the one item it belongs to.
    const itemId = (events[2]!.item as { id: string }).id;
    for (const event of events.slice(3, -2)) expect(event.item_id).toBe(itemId);
  });

  it('streams a function call as the recorded sequence: added, argument deltas, done, completed', () => {
    const events = encode(
      [
        chunk({
          role: 'assistant',
          content: null,
          tool_calls: [
            { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } },
          ],
        }),
        ...['{"', 'city', '":"', 'Par', 'is"}'].map((piece) =>
          chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }),
        ),
        chunk({}, 'tool_calls'),
        usageChunk(45, 18),
      ],
      { tools: [weatherTool] },
    );
    const recorded = recordedEvents('stream-function-call.sse');
    expect(skeleton(events)).toEqual(skeleton(recorded));
    events.forEach((event, index) =>
      expect(shapeDifferences(event, recorded[index]), event.type).toEqual([]),
    );
    expect(events.find((event) => event.type === 'response.function_call_arguments.done')).toMatchObject({
      arguments: '{"city":"Paris"}',
      name: 'get_weather',
    });
    expect((events.at(-1)!.response as Record<string, any>).output[0]).toMatchObject({
      call_id: 'call_1',
      status: 'completed',
    });
  });

  it('closes each item before the next: text, then parallel calls at output indexes 1 and 2', () => {
    const events = encode([
      chunk({ content: 'Checking both.' }),
      chunk({
        tool_calls: [{ index: 0, id: 'toolu_a', function: { name: 'get_weather', arguments: '{"city":' } }],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'toolu_b', function: { name: 'get_time', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'),
      usageChunk(50, 30, 10),
    ]);
    expect(events.map((event) => [event.type, event.output_index ?? null])).toEqual([
      ['response.created', null],
      ['response.in_progress', null],
      ['response.output_item.added', 0],
      ['response.content_part.added', 0],
      ['response.output_text.delta', 0],
      ['response.output_text.done', 0],
      ['response.content_part.done', 0],
      ['response.output_item.done', 0],
      ['response.output_item.added', 1],
      ['response.function_call_arguments.delta', 1],
      ['response.function_call_arguments.delta', 1],
      ['response.function_call_arguments.done', 1],
      ['response.output_item.done', 1],
      ['response.output_item.added', 2],
      ['response.function_call_arguments.delta', 2],
      ['response.function_call_arguments.done', 2],
      ['response.output_item.done', 2],
      ['response.completed', null],
    ]);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    const response = events.at(-1)!.response as Record<string, any>;
    expect(
      response.output.map((item: { type: string; call_id?: string }) => item.call_id ?? item.type),
    ).toEqual(['message', 'toolu_a', 'toolu_b']);
    expect(response.output[1].arguments).toBe('{"city":"Paris"}');
    expect(response.usage).toMatchObject({
      input_tokens: 50,
      input_tokens_details: { cached_tokens: 10 },
      output_tokens: 30,
      total_tokens: 80,
    });
  });

  it('ends a stream cut by the output cap with response.incomplete', () => {
    const events = encode([chunk({ content: 'Once upon a' }), chunk({}, 'length'), usageChunk(5, 3)]);
    const last = events.at(-1)!;
    expect(last.type).toBe('response.incomplete');
    expect(last.response).toMatchObject({
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
    });
    expect(events.find((event) => event.type === 'response.output_item.done')!.item).toMatchObject({
      status: 'incomplete',
    });
  });

  it('answers an empty turn with an empty message, as a whole response does', () => {
    const events = encode([chunk({}, 'stop')]);
    expect(events.map((event) => event.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
  });

  it('ends a failed stream as the recorded one: the error event, then response.failed', () => {
    const encoder = new ResponseEventEncoder(responseShell(request(), 'resp_test', 1766400000), newId);
    const events = [
      ...encoder.start(),
      ...encoder.fail({
        type: 'server_error',
        code: 'server_error',
        message: 'The server had an error while processing your request.',
        param: null,
      }),
    ];
    const recorded = recordedEvents('stream-error.sse');
    expect(skeleton(events)).toEqual(skeleton(recorded));
    events.forEach((event, index) =>
      expect(shapeDifferences(event, recorded[index]), event.type).toEqual([]),
    );
    expect(events[2]).toMatchObject({
      code: 'server_error',
      error: { code: 'server_error', type: 'server_error' },
    });
    expect(events[3]!.response).toMatchObject({ status: 'failed', error: { code: 'server_error' } });
  });
});
