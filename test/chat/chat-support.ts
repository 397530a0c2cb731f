import { expect } from 'vitest';
import { SseDecoder } from '../../src/http/sse.ts';
import type { TestKeyway } from '../support/test-keyway.ts';

export interface ChatEvent {
  type: 'user' | 'delta' | 'done' | 'error';
  [key: string]: any;
}

export interface ShownMessage {
  id: string;
  parentId: string | null;
  role: 'user' | 'assistant';
  content: string;
  siblings: { ids: string[]; index: number };
}

/** Reads an SSE response to its end: every `data:` line as JSON. */
export async function readEvents(response: Response): Promise<ChatEvent[]> {
  const decoder = new SseDecoder();
  const text = await response.text();
  return [...decoder.push(text), ...decoder.end()].map((event) => JSON.parse(event.data) as ChatEvent);
}

/** The chat API as the web UI uses it, for one harness. */
export function chatClient(harness: () => TestKeyway) {
  const client = {
    async newConversation(token: string, body: Record<string, unknown> = {}) {
      const created = await harness().call('POST', '/api/conversations', {
        token,
        body: { model: 'work/gpt-4o-mini', ...body },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      return created.body as { id: string; title: string; model: string };
    },
    async send(token: string, id: string, body: Record<string, unknown>): Promise<Response> {
      return harness().keyway.app.request(`/api/conversations/${id}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
    },
    /** Sends and reads the whole answer; the last event must be `done`. */
    async say(token: string, id: string, body: Record<string, unknown>) {
      const events = await readEvents(await client.send(token, id, body));
      expect(events.at(-1), JSON.stringify(events)).toMatchObject({ type: 'done' });
      return events;
    },
    async shown(token: string, id: string) {
      const got = await harness().call('GET', `/api/conversations/${id}`, { token });
      expect(got.status).toBe(200);
      return got.body.messages as ShownMessage[];
    },
  };
  return client;
}
