import type { WireFormat } from '../providers/provider.ts';

/** The `/v1` endpoints a model name can be sent to. */
export type V1Endpoint =
  | '/v1/chat/completions'
  | '/v1/responses'
  | '/v1/messages'
  | '/v1/messages/count_tokens'
  | '/v1/embeddings'
  | '/v1/audio/transcriptions';

/** What every chat model serves: each chat ingress reaches every provider through the core. */
const CHAT: V1Endpoint[] = ['/v1/chat/completions', '/v1/responses', '/v1/messages'];

/** The wires with an embeddings endpoint Keyway speaks (Anthropic has none). */
const EMBEDDING_WIRES = new Set<WireFormat>(['openai', 'azure-openai', 'ollama', 'google']);

/**
 * Which endpoints a provider's model serves, judged from its id: providers list chat, embedding and
 * speech models side by side without saying which is which, and their ids say it (`text-embedding-3-small`,
 * `nomic-embed-text`, `gemini-embedding-001`, `whisper-1`, `gpt-4o-transcribe`). A guess, so `/v1` never
 * refuses a request for not being listed: it only tells clients where to send what.
 */
export function endpointsOf(wire: WireFormat, model: string): V1Endpoint[] {
  if (/embed/i.test(model)) return EMBEDDING_WIRES.has(wire) ? ['/v1/embeddings'] : [];
  if (/whisper|transcribe/i.test(model)) return wire === 'openai' ? ['/v1/audio/transcriptions'] : [];
  return wire === 'anthropic' || wire === 'google' ? [...CHAT, '/v1/messages/count_tokens'] : CHAT;
}

/** A bot answers like a chat model. */
export const BOT_ENDPOINTS: readonly V1Endpoint[] = CHAT;
