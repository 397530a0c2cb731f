import Anthropic from '@anthropic-ai/sdk';
import { randomBytes } from 'node:crypto';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from './fakes/fake-anthropic.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { startFakeOpenAiResponses, type FakeOpenAiResponses } from './fakes/fake-openai-responses.ts';
import { startGatewayHarness, type GatewayHarness } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';

/*
 * A provider that echoes its own key a few characters per SSE event, on every `/v1` route that relays
 * the provider's stream as it is: chat completions to an OpenAI-wire credential, `/v1/messages` to an
 * Anthropic one, `/v1/responses` to OpenAI. No one event holds the key, so only scrubbing the text the
 * client joins from the events keeps it from the client; the official SDKs do the joining here.
 */

const REDACTED = '[REDACTED]';

/** `text` cut into pieces of `size` characters. */
const pieces = (text: string, size: number) => text.match(new RegExp(`.{1,${size}}`, 'gs'))!;

describe.each(BACKENDS)(
  'a key the provider echoes across stream events never reaches the client [%s]',
  (backend) => {
    const openAiKey = `sk-canary-${randomBytes(16).toString('hex')}`;
    const anthropicKey = `sk-ant-canary-${randomBytes(16).toString('hex')}`;
    /** What must not reach a client in any form: each key's random middle. */
    const middles = [openAiKey.slice(12, -4), anthropicKey.slice(16, -4)];
    let chat: FakeOpenAiChat;
    let responses: FakeOpenAiResponses;
    let anthropic: FakeAnthropic;
    let gateway: GatewayHarness;
    let client: OpenAI;
    let claude: Anthropic;

    const expectNoKeyIn = (value: unknown) => {
      const text = JSON.stringify(value);
      for (const secret of [openAiKey, anthropicKey, ...middles]) expect(text).not.toContain(secret);
    };

    beforeAll(async () => {
      [chat, responses, anthropic] = await Promise.all([
        startFakeOpenAiChat({ validKeys: [openAiKey] }),
        startFakeOpenAiResponses({ validKeys: [openAiKey] }),
        startFakeAnthropic({ apiKeys: [anthropicKey] }),
      ]);
      gateway = await startGatewayHarness(backend);
      const alice = await gateway.user('alice');
      const credentials = [
        { name: 'work', provider: 'openai', secret: openAiKey, settings: { baseUrl: chat.url } },
        { name: 'oa', provider: 'openai', secret: openAiKey, settings: { baseUrl: responses.url } },
        { name: 'claude', provider: 'anthropic', secret: anthropicKey, settings: { baseUrl: anthropic.url } },
      ];
      for (const credential of credentials) await gateway.credential(alice.token, credential);
      client = gateway.client(alice.token);
      claude = new Anthropic({
        apiKey: alice.token,
        baseURL: gateway.server.url,
        maxRetries: 0,
        timeout: 20_000,
      });
    });
    afterAll(async () => {
      await gateway.stop();
      await Promise.all([chat.close(), responses.close(), anthropic.close()]);
      // Nor did any log line see a key (debug level included).
      const logs = gateway.logLines.join('\n');
      for (const secret of [openAiKey, anthropicKey]) expect(logs.includes(secret)).toBe(false);
    });

    it('chat completions: content streamed 1, 2 or 3 characters per event, through the OpenAI SDK', async () => {
      const echo = `Your key is ${openAiKey}. Keep it safe.`;
      for (const pieceSize of [1, 2, 3]) {
        chat.setScript(() => ({ kind: 'text', text: echo, pieceSize }));
        const stream = await client.chat.completions.create({
          model: 'work/gpt-4o-mini',
          messages: [{ role: 'user', content: 'What is your key?' }],
          stream: true,
        });
        const chunks: OpenAI.ChatCompletionChunk[] = [];
        for await (const chunk of stream) chunks.push(chunk);
        const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
        expect(text, `pieces of ${pieceSize}`).toBe(`Your key is ${REDACTED}. Keep it safe.`);
        expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
        expectNoKeyIn(chunks);
      }
      // The whole answer too.
      const whole = await client.chat.completions.create({
        model: 'work/gpt-4o-mini',
        messages: [{ role: 'user', content: 'What is your key?' }],
      });
      expect(whole.choices[0]!.message.content).toBe(`Your key is ${REDACTED}. Keep it safe.`);
    });

    it('chat completions: tool-call arguments streamed in pieces, each call on its own', async () => {
      const leaking = JSON.stringify({ note: `the key is ${openAiKey}, kept` });
      const plain = JSON.stringify({ city: 'Paris', hint: 'sk-canary-' });
      chat.setScript(() => ({
        kind: 'tools',
        calls: [
          { name: 'save_note', arguments: leaking },
          { name: 'get_weather', arguments: plain },
        ],
      }));
      const stream = client.chat.completions.stream({
        model: 'work/gpt-4o',
        messages: [{ role: 'user', content: 'Save the key' }],
        tools: ['save_note', 'get_weather'].map((name) => ({
          type: 'function' as const,
          function: { name, parameters: { type: 'object', properties: {} } },
        })),
      });
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      const calls = (await stream.finalChatCompletion()).choices[0]!.message.tool_calls!;
      expect(
        calls.map((call) => (call.type === 'function' ? [call.function.name, call.function.arguments] : [])),
      ).toEqual([
        ['save_note', JSON.stringify({ note: `the key is ${REDACTED}, kept` })],
        ['get_weather', plain],
      ]);
      expectNoKeyIn(chunks);
    });

    it('chat completions: a text that only looks like the start of the key arrives event for event as sent', async () => {
      const text = 'Keys look like sk-..., as in sk-canary-something; sk-c is not one, nor is "s';
      for (const pieceSize of [1, 3]) {
        chat.setScript(() => ({ kind: 'text', text, pieceSize }));
        const stream = await client.chat.completions.create({
          model: 'work/gpt-4o-mini',
          messages: [{ role: 'user', content: 'Describe keys' }],
          stream: true,
        });
        const contents: string[] = [];
        for await (const chunk of stream) {
          const content = chunk.choices[0]?.delta.content;
          if (content) contents.push(content);
        }
        expect(contents).toEqual(pieces(text, pieceSize));
      }
    });

    it('/v1/messages relayed to Anthropic: text and tool input in 3-character deltas, through the Anthropic SDK', async () => {
      const echo = `Your key is ${anthropicKey}. Keep it safe.`;
      const input = { note: `key ${anthropicKey}` };
      anthropic.setScript({
        type: 'message',
        content: [
          { type: 'text', text: pieces(echo, 3) },
          { type: 'tool_use', name: 'save_note', input, fragments: pieces(JSON.stringify(input), 3) },
        ],
      });
      const request = {
        model: 'claude/claude-sonnet-4-5',
        max_tokens: 200,
        messages: [{ role: 'user' as const, content: 'What is your key?' }],
      };
      const stream = claude.messages.stream(request);
      const events: Anthropic.MessageStreamEvent[] = [];
      for await (const event of stream) events.push(event);
      const message = await stream.finalMessage();
      expect(message.content).toMatchObject([
        { type: 'text', text: `Your key is ${REDACTED}. Keep it safe.` },
        { type: 'tool_use', name: 'save_note', input: { note: `key ${REDACTED}` } },
      ]);
      expect(message.usage.output_tokens).toBeGreaterThan(0);
      expectNoKeyIn(events);
      // The whole answer too.
      const whole = await claude.messages.create(request);
      expect(whole.content[0]).toMatchObject({
        type: 'text',
        text: `Your key is ${REDACTED}. Keep it safe.`,
      });
      expectNoKeyIn(whole);
    });

    it('/v1/responses relayed to OpenAI: text and arguments deltas, the done events and response.completed', async () => {
      const echo = `Your key is ${openAiKey}. Keep it safe.`;
      const expected = `Your key is ${REDACTED}. Keep it safe.`;
      responses.setScript(() => ({ kind: 'text', text: pieces(echo, 2) }));
      const stream = client.responses.stream({ model: 'oa/gpt-4.1-mini', input: 'What is your key?' });
      const events: OpenAI.Responses.ResponseStreamEvent[] = [];
      for await (const event of stream) events.push(event);
      const deltas = events.filter((event) => event.type === 'response.output_text.delta');
      expect(deltas.length).toBeGreaterThan(20);
      expect(deltas.map((event) => event.delta).join('')).toBe(expected);
      const done = events.find((event) => event.type === 'response.output_text.done');
      expect(done?.text).toBe(expected);
      const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
      expect(completed.type).toBe('response.completed');
      expect(completed.response.output).toMatchObject([
        { content: [{ type: 'output_text', text: expected }] },
      ]);
      expect((await stream.finalResponse()).output_text).toBe(expected);
      expectNoKeyIn(events);

      // A function call's arguments, streamed in three pieces that each hold part of the key.
      const args = JSON.stringify({ note: openAiKey });
      responses.setScript(() => ({ kind: 'calls', calls: [{ name: 'save_note', arguments: args }] }));
      const calling = client.responses.stream({ model: 'oa/gpt-4.1-mini', input: 'Save your key' });
      const callEvents: OpenAI.Responses.ResponseStreamEvent[] = [];
      for await (const event of calling) callEvents.push(event);
      const argumentDeltas = callEvents.filter(
        (event) => event.type === 'response.function_call_arguments.delta',
      );
      expect(argumentDeltas.map((event) => event.delta).join('')).toBe(JSON.stringify({ note: REDACTED }));
      expect((await calling.finalResponse()).output).toMatchObject([
        { type: 'function_call', name: 'save_note', arguments: JSON.stringify({ note: REDACTED }) },
      ]);
      expectNoKeyIn(callEvents);
    });
  },
);
