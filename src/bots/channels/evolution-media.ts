import { z } from 'zod';
import type { UpstreamClient } from '../../providers/upstream-client.ts';
import type { UpstreamPolicy } from '../../providers/upstream-url-guard.ts';

/** `POST /chat/getBase64FromMediaMessage/{instance}`'s answer; only what Keyway reads is checked. */
const mediaAnswer = z.looseObject({
  base64: z.string().min(1),
  mimetype: z.string().nullish(),
});

/** Evolution refused the message for good (it does not keep it, or it has no media): do not retry. */
export class MediaUnavailable extends Error {}

/** How long a media download may take, headers and body. */
const FETCH_TIMEOUT_MS = 60_000;

/**
 * A received message's media, from Evolution API when its webhook did not carry it (the instance's
 * "webhook base64" is off): `POST /chat/getBase64FromMediaMessage/{instance}` with
 * `{message: {key: {id}}, convertToMp4: false}` and the instance key in `apikey`. Evolution answers
 * `{mediaType, fileName, size, mimetype, base64}`. Throws `MediaUnavailable` when Evolution answers
 * 4xx or the media is larger than `maxBytes`; other failures (unreachable, 5xx) throw as they are, so
 * the turn is retried.
 */
export async function fetchEvolutionMedia(
  upstream: UpstreamClient,
  options: {
    serverUrl: string;
    instance: string;
    apiKey: string;
    messageId: string;
    policy: UpstreamPolicy;
    maxBytes: number;
    signal?: AbortSignal;
  },
): Promise<{ bytes: Buffer; mimeType: string | null }> {
  const response = await upstream.request({
    method: 'POST',
    url: `${options.serverUrl}/chat/getBase64FromMediaMessage/${encodeURIComponent(options.instance)}`,
    headers: { 'content-type': 'application/json', apikey: options.apiKey },
    body: JSON.stringify({ message: { key: { id: options.messageId } }, convertToMp4: false }),
    policy: options.policy,
    timeoutMs: FETCH_TIMEOUT_MS,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const text = await response.text();
  if (response.status >= 400 && response.status < 500)
    throw new MediaUnavailable(`Evolution API answered HTTP ${response.status} for the media`);
  if (response.status < 200 || response.status >= 300)
    throw new Error(`Evolution API answered HTTP ${response.status} for the media`);
  // base64 is 4 characters per 3 bytes: a body this large cannot decode to less than the limit.
  if (text.length > (options.maxBytes / 3) * 4 + 4096)
    throw new MediaUnavailable('the media is larger than the file size limit');
  let parsed: z.infer<typeof mediaAnswer>;
  try {
    parsed = mediaAnswer.parse(JSON.parse(text));
  } catch {
    throw new MediaUnavailable('Evolution API answered without the media');
  }
  const bytes = decodeBase64(parsed.base64);
  if (bytes.length > options.maxBytes)
    throw new MediaUnavailable('the media is larger than the file size limit');
  return { bytes, mimeType: parsed.mimetype ?? null };
}

/** Base64 as Evolution sends it: plain, or a data URL. */
export function decodeBase64(value: string): Buffer {
  const comma = value.startsWith('data:') ? value.indexOf(',') : -1;
  return Buffer.from(comma >= 0 ? value.slice(comma + 1) : value, 'base64');
}
