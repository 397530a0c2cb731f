import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import { detectFileType } from '../files/file-types.ts';
import type { GatewayService } from '../gateway/gateway.service.ts';
import { notAudio, transcriptionExchange } from '../gateway/exchanges/transcriptions.ts';
import type { UpstreamClient } from '../providers/upstream-client.ts';
import type { InboxMessage } from './bot-queue.repository.ts';
import type { BotsService, LoadedBot } from './bots.service.ts';
import { fetchEvolutionMedia, MediaUnavailable } from './channels/evolution-media.ts';

/** A stored message as the prompt takes it: its text (a voice note's transcript), an image as a data URL. */
export interface ReadMessage {
  text: string | null;
  image: string | null;
}

/**
 * Turns the media of inbound messages into what a model reads: an image into an OpenAI `image_url`
 * part (a data URL, its type checked by magic bytes), a voice note into its transcript through the
 * gateway's transcription exchange, with the bot's credential, as the bot's owner (grants, limits and
 * usage apply as on `/v1/audio/transcriptions`). Media that cannot be had (too large, not what it says,
 * gone from Evolution) reads as content the bot cannot read; a failure worth retrying throws.
 */
export class BotMedia {
  readonly #upstream: UpstreamClient;
  readonly #gateway: GatewayService;
  readonly #bots: BotsService;
  readonly #maxBytes: number;

  constructor(deps: {
    upstream: UpstreamClient;
    gateway: GatewayService;
    bots: BotsService;
    maxBytes: number;
  }) {
    this.#upstream = deps.upstream;
    this.#gateway = deps.gateway;
    this.#bots = deps.bots;
    this.#maxBytes = deps.maxBytes;
  }

  /** The largest media a bot takes (the file size limit). */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  async read(
    bot: LoadedBot,
    owner: Principal,
    message: InboxMessage,
    options: { signal: AbortSignal; log: Logger },
  ): Promise<ReadMessage> {
    const media = message.media;
    if (!media) return { text: message.text, image: null };
    const wanted = media.kind === 'image' ? bot.behaviour.images : bot.behaviour.speechToText;
    if (!wanted) return { text: null, image: null };
    const bytes = await this.#bytes(bot, message, options);
    if (!bytes) return { text: media.kind === 'image' ? message.text : null, image: null };
    if (media.kind === 'image') {
      const type = imageType(bytes);
      if (!type) {
        options.log.warn({ inboxId: message.id }, 'an inbound image is not an image Keyway reads; skipped');
        return { text: message.text, image: null };
      }
      return { text: message.text, image: `data:${type};base64,${bytes.toString('base64')}` };
    }
    if (notAudio(bytes)) {
      options.log.warn({ inboxId: message.id }, 'an inbound voice note is not audio; skipped');
      return { text: null, image: null };
    }
    const transcript = await this.#transcribe(bot, owner, bytes, media.mimeType, options);
    return { text: transcript.trim() === '' ? null : transcript, image: null };
  }

  async #bytes(
    bot: LoadedBot,
    message: InboxMessage,
    options: { signal: AbortSignal; log: Logger },
  ): Promise<Buffer | null> {
    if (message.media?.bytes) return message.media.bytes;
    const { record, secrets } = bot;
    if (
      message.channel !== 'evolution' ||
      !message.externalId ||
      !record.evolutionServerUrl ||
      !record.evolutionInstance ||
      !secrets.evolutionApiKey
    )
      return null;
    try {
      const fetched = await fetchEvolutionMedia(this.#upstream, {
        serverUrl: record.evolutionServerUrl,
        instance: record.evolutionInstance,
        apiKey: secrets.evolutionApiKey,
        messageId: message.externalId,
        policy: this.#bots.upstreamPolicy(record),
        maxBytes: this.#maxBytes,
        signal: options.signal,
      });
      return fetched.bytes;
    } catch (error) {
      if (!(error instanceof MediaUnavailable)) throw error;
      options.log.warn({ inboxId: message.id, reason: error.message }, 'inbound media unavailable');
      return null;
    }
  }

  async #transcribe(
    bot: LoadedBot,
    owner: Principal,
    bytes: Buffer,
    mimeType: string | null,
    options: { signal: AbortSignal; log: Logger },
  ): Promise<string> {
    const { record, behaviour } = bot;
    if (!record.credentialId)
      throw new KeywayError('bot_without_credential', `The bot "${record.name}" has no credential.`);
    const type = (mimeType ?? 'audio/ogg').split(';')[0]!.trim();
    const exchange = transcriptionExchange({
      model: behaviour.transcriptionModel,
      stream: false,
      fields: [['response_format', 'json']],
      // OpenAI tells the format by the extension: WhatsApp voice notes are Ogg Opus.
      file: { name: `voice-note.${extensionFor(type)}`, type, bytes },
    });
    const answer = await this.#gateway.exchange(
      owner,
      { ...exchange, credentialId: record.credentialId },
      { startedAt: performance.now(), signal: options.signal, fallbackModels: [], log: options.log },
    );
    if (answer.kind !== 'whole') throw new Error('expected a whole transcription, got a stream');
    const text = (JSON.parse(answer.body) as { text?: unknown }).text;
    if (typeof text !== 'string') throw new Error('the transcription had no text');
    return text;
  }
}

/** The image's media type by its magic bytes, or null when it is not an image Keyway reads. */
function imageType(bytes: Uint8Array): string | null {
  try {
    const detected = detectFileType(bytes, 'image');
    return detected.kind === 'image' ? detected.mediaType : null;
  } catch (error) {
    if (error instanceof KeywayError) return null;
    throw error;
  }
}

const AUDIO_EXTENSIONS: Record<string, string> = {
  'audio/ogg': 'ogg',
  'audio/opus': 'ogg',
  'audio/mpeg': 'mp3',
  'audio/mp4': 'm4a',
  'audio/aac': 'aac',
  'audio/wav': 'wav',
  'audio/webm': 'webm',
};

const extensionFor = (type: string) => AUDIO_EXTENSIONS[type] ?? 'ogg';
