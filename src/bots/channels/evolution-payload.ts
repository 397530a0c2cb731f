import { z } from 'zod';
import type { InboundMessage } from '../bot-engine.ts';
import { decodeBase64 } from './evolution-media.ts';

/**
 * Evolution API's webhook body for `MESSAGES_UPSERT` (v2 sends `event: "messages.upsert"`). Only the
 * fields Keyway reads are checked; the rest (including the `apikey` Evolution puts in every webhook)
 * is dropped unread and never stored or logged.
 */
const messageKey = z.looseObject({
  remoteJid: z.string().min(1).max(200),
  fromMe: z.boolean().default(false),
  id: z.string().min(1).max(200).optional(),
});

const messageData = z.looseObject({
  key: messageKey,
  pushName: z.string().max(200).nullish(),
  message: z
    .looseObject({
      conversation: z.string().nullish(),
      extendedTextMessage: z.looseObject({ text: z.string().nullish() }).nullish(),
      imageMessage: z
        .looseObject({ caption: z.string().nullish(), mimetype: z.string().max(200).nullish() })
        .nullish(),
      /** A voice note (`ptt: true`) or an audio file. */
      audioMessage: z.looseObject({ mimetype: z.string().max(200).nullish() }).nullish(),
      /** The media itself, when the instance has "webhook base64" on. */
      base64: z.string().nullish(),
    })
    .nullish(),
  messageType: z.string().nullish(),
});

export const evolutionWebhookSchema = z.looseObject({
  event: z.string().min(1).max(100),
  instance: z.string().max(200).optional(),
  data: z.unknown(),
});

export type EvolutionEvent =
  | { kind: 'message'; instance: string | undefined; message: InboundMessage }
  | { kind: 'skipped'; reason: string };

/** `messages.upsert` / `MESSAGES_UPSERT` → the message; other events and status broadcasts are skipped. */
export function readEvolutionEvent(
  body: z.infer<typeof evolutionWebhookSchema>,
): EvolutionEvent | { kind: 'invalid'; message: string } {
  const event = body.event.toLowerCase().replaceAll('_', '.');
  if (event !== 'messages.upsert') return { kind: 'skipped', reason: `event ${body.event} is not a message` };
  const raw = Array.isArray(body.data) ? body.data[0] : body.data;
  const parsed = messageData.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { kind: 'invalid', message: `data.${issue.path.join('.')}: ${issue.message}` };
  }
  const data = parsed.data;
  if (data.key.remoteJid === 'status@broadcast') return { kind: 'skipped', reason: 'status broadcast' };
  const message = data.message;
  const text =
    message?.conversation ?? message?.extendedTextMessage?.text ?? message?.imageMessage?.caption ?? null;
  const carried = message?.base64 ? decodeBase64(message.base64) : null;
  const media: InboundMessage['media'] = message?.imageMessage
    ? { kind: 'image', mimeType: message.imageMessage.mimetype ?? null, bytes: carried }
    : message?.audioMessage
      ? { kind: 'audio', mimeType: message.audioMessage.mimetype ?? null, bytes: carried }
      : null;
  return {
    kind: 'message',
    instance: body.instance,
    message: {
      contact: data.key.remoteJid,
      contactName: data.pushName ?? null,
      text: text === null || text.trim() === '' ? null : text,
      fromMe: data.key.fromMe,
      externalId: data.key.id ?? null,
      media,
    },
  };
}
