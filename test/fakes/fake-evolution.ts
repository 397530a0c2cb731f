import { randomBytes, randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How the fake answers: `ok` as Evolution API does, `error` with a 503 to every request, `closed`
 * not listening at all (connections refused); `ok` again listens on the same port.
 */
export type FakeMode = 'ok' | 'error' | 'closed';

/** One message Evolution accepted for sending. */
export interface EvolutionSend {
  instance: string;
  number: string;
  text: string;
  delay?: number;
  /** Date.now() when it was accepted. */
  at: number;
}

/** Every request that reached the fake, accepted or not, with the status it answered. */
export interface EvolutionRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

export interface FakeEvolution {
  /** The server URL, as saved on a bot (`channels.evolution.serverUrl`). */
  url: string;
  port: number;
  sent: EvolutionSend[];
  requests: EvolutionRequest[];
  /**
   * Media of received messages by message id, as Evolution keeps them (its message store) for
   * `POST /chat/getBase64FromMediaMessage/:instance`.
   */
  media: Map<string, StoredMedia>;
  setMode(mode: FakeMode): Promise<void>;
  /** `true` answers 503 to everything; `false` back to normal. */
  setDown(down: boolean): Promise<void>;
  /** Resolves with `sent` once it holds at least `count` messages. */
  waitForSent(count: number, timeoutMs?: number): Promise<EvolutionSend[]>;
  close(): Promise<void>;
}

/** A received message's media as the fake's message store keeps it. */
export interface StoredMedia {
  kind: 'image' | 'audio';
  mimetype: string;
  bytes: Buffer;
  caption?: string;
}

/**
 * A fake Evolution API v2 server on loopback, speaking its wire format for `POST
 * /message/sendText/:instance` and `POST /chat/getBase64FromMediaMessage/:instance` (body
 * `{message: {key: {id}}, convertToMp4}`; answers 201 `{mediaType, fileName, caption, size, mimetype,
 * base64}`, or 400 when the message is not in its store, as Evolution does): the instance must exist (404 otherwise), the `apikey` header must be
 * that instance's key or the global key (401 with Evolution's error envelope otherwise), the body is
 * validated like Evolution's JSON schema (400 with its messages), and a send answers 201 with the
 * WhatsApp message Evolution returns (`status: "PENDING"`).
 */
export async function startFakeEvolution(options: {
  /** Instance name → its API key (the instance token). */
  instances: Record<string, string>;
  /** Evolution's `AUTHENTICATION_API_KEY`, accepted for every instance. */
  globalKey?: string;
}): Promise<FakeEvolution> {
  const sent: EvolutionSend[] = [];
  const requests: EvolutionRequest[] = [];
  const media = new Map<string, StoredMedia>();
  let mode: FakeMode = 'ok';

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const record: EvolutionRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: raw,
      status: 0,
    };
    requests.push(record);
    const answer = (status: number, body: unknown) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (mode === 'error')
      return answer(503, evolutionError(503, 'Service Unavailable', 'Service Unavailable'));

    const url = new URL(req.url ?? '/', 'http://fake');
    const route =
      /^\/message\/sendText\/([^/]+)\/?$/.exec(url.pathname) ??
      /^\/chat\/getBase64FromMediaMessage\/([^/]+)\/?$/.exec(url.pathname);
    if (req.method !== 'POST' || !route) {
      return answer(
        404,
        evolutionError(404, 'Not Found', [`Cannot ${(req.method ?? 'GET').toUpperCase()} ${req.url}`]),
      );
    }
    const instance = decodeURIComponent(route[1]!);
    // Evolution's guards run in this order: the instance exists, then the key.
    if (!(instance in options.instances))
      return answer(404, evolutionError(404, 'Not Found', [`The "${instance}" instance does not exist`]));
    const key = req.headers.apikey;
    if (
      typeof key !== 'string' ||
      (key !== options.instances[instance] && (options.globalKey === undefined || key !== options.globalKey))
    )
      return answer(401, evolutionError(401, 'Unauthorized', 'Unauthorized'));

    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      // Express's json parser rejects it before Evolution's handlers run.
      return answer(400, evolutionError(400, 'Bad Request', 'Unexpected token in JSON'));
    }
    if (url.pathname.startsWith('/chat/')) return answerMedia(body, answer);
    const problems = validateSendText(body);
    if (problems.length) return answer(400, evolutionError(400, 'Bad Request', problems));
    const { number, text, delay } = body as { number: string; text: string; delay?: number };
    sent.push({ instance, number, text, ...(delay !== undefined ? { delay } : {}), at: Date.now() });
    return answer(201, {
      key: {
        remoteJid: number.includes('@') ? number : `${number.replace(/\D/g, '')}@s.whatsapp.net`,
        fromMe: true,
        id: 'BAE5' + randomBytes(6).toString('hex').toUpperCase(),
      },
      pushName: '',
      status: 'PENDING',
      message: { conversation: text },
      contextInfo: null,
      messageType: 'conversation',
      messageTimestamp: Math.floor(Date.now() / 1000),
      instanceId: instanceIds.get(instance),
      source: 'unknown',
    });
  };
  const answerMedia = (body: unknown, answer: (status: number, body: unknown) => void) => {
    const id = (body as { message?: { key?: { id?: unknown } } } | null)?.message?.key?.id;
    const stored = typeof id === 'string' ? media.get(id) : undefined;
    // Evolution looks the message up in its store and fails with a 400 when it is not there.
    if (!stored) return answer(400, evolutionError(400, 'Bad Request', ['Message not found']));
    return answer(201, {
      mediaType: `${stored.kind}Message`,
      fileName: `${id}.${stored.kind === 'image' ? 'jpeg' : 'oga'}`,
      caption: stored.caption,
      size: { fileLength: String(stored.bytes.length), height: 0, width: 0 },
      mimetype: stored.mimetype,
      base64: stored.bytes.toString('base64'),
      buffer: null,
    });
  };
  const instanceIds = new Map(Object.keys(options.instances).map((name) => [name, randomUUID()]));

  const listener = new RestartableListener((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => handle(req, res, raw));
  });
  const port = await listener.listen(0);

  const setMode = async (next: FakeMode) => {
    mode = next;
    if (next === 'closed') await listener.stop();
    else await listener.listen(port);
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    sent,
    requests,
    media,
    setMode,
    setDown: (down) => setMode(down ? 'error' : 'ok'),
    waitForSent: (count, timeoutMs = 15_000) =>
      waitUntil(
        () => sent.length >= count,
        timeoutMs,
        () => sent,
      ),
    close: () => listener.stop(),
  };
}

/** Evolution's error envelope (its Express error handler): `{status, error, response: {message}}`. */
function evolutionError(status: number, error: string, message: string | string[]) {
  return { status, error, response: { message } };
}

/**
 * Evolution's `textMessageSchema` checks, with the messages its validator produces (a field's
 * `description` when it has one, else the jsonschema error text without the leading `instance.`).
 */
function validateSendText(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return ['is not of a type(s) object'];
  const record = body as Record<string, unknown>;
  const problems: string[] = [];
  for (const field of ['number', 'text'])
    if (!(field in record)) problems.push(`instance requires property "${field}"`);
  if ('number' in record && (typeof record.number !== 'string' || record.number.trim() === ''))
    problems.push('Invalid format');
  if ('text' in record && typeof record.text !== 'string') problems.push('text is not of a type(s) string');
  if ('delay' in record && !Number.isInteger(record.delay)) problems.push('Enter a value in milliseconds');
  return problems;
}

export interface EvolutionUpsertOptions {
  instance: string;
  remoteJid: string;
  text?: string;
  /** Where the text goes: `conversation` (a plain message) or `extendedTextMessage.text` (a reply, a link). */
  textAs?: 'conversation' | 'extendedTextMessage';
  fromMe?: boolean;
  pushName?: string;
  id?: string;
  /** The instance key: Evolution puts it in every webhook body. */
  apikey?: string;
  /** An image without a caption: nothing a text bot can read. */
  imageOnly?: boolean;
  /**
   * An image (`imageMessage`, `text` as its caption) or a voice note (`audioMessage`, `ptt: true`).
   * `inWebhook`: the instance has "webhook base64" on, so the bytes come as `message.base64`;
   * otherwise the receiver fetches them (put them in the fake's `media` under the message id).
   */
  media?: { kind: 'image' | 'audio'; mimetype: string; bytes: Buffer; inWebhook?: boolean };
  /** The instance's own WhatsApp number (the webhook's `sender`). */
  sender?: string;
  serverUrl?: string;
  destination?: string;
}

/**
 * A `messages.upsert` webhook body as Evolution API v2 sends it (WebhookController.emit: `event`,
 * `instance`, `data`, `destination`, `date_time`, `sender`, `server_url`, `apikey`), with `data` a
 * Baileys message as Evolution stores it.
 */
export function evolutionUpsert(options: EvolutionUpsertOptions): Record<string, unknown> {
  const fromMe = options.fromMe ?? false;
  const now = Date.now();
  const isGroup = options.remoteJid.endsWith('@g.us');
  const text = options.text ?? '';
  let message: Record<string, unknown>;
  let messageType: string;
  if (options.media?.kind === 'image') {
    messageType = 'imageMessage';
    message = {
      imageMessage: {
        url: 'https://mmg.whatsapp.net/o1/v/t62.7118-24/fake.enc',
        mimetype: options.media.mimetype,
        ...(options.text ? { caption: options.text } : {}),
        fileSha256: randomBytes(32).toString('base64'),
        fileLength: String(options.media.bytes.length),
        height: 1280,
        width: 960,
        mediaKey: randomBytes(32).toString('base64'),
        directPath: '/o1/v/t62.7118-24/fake.enc',
      },
      messageContextInfo: { deviceListMetadataVersion: 2 },
    };
  } else if (options.media?.kind === 'audio') {
    messageType = 'audioMessage';
    message = {
      audioMessage: {
        url: 'https://mmg.whatsapp.net/v/t62.7117-24/fake.enc',
        mimetype: options.media.mimetype,
        fileSha256: randomBytes(32).toString('base64'),
        fileLength: String(options.media.bytes.length),
        seconds: Math.max(1, Math.round(options.media.bytes.length / 2_000)),
        ptt: true,
        mediaKey: randomBytes(32).toString('base64'),
        directPath: '/v/t62.7117-24/fake.enc',
      },
      messageContextInfo: { deviceListMetadataVersion: 2 },
    };
  } else if (options.imageOnly) {
    messageType = 'imageMessage';
    message = {
      imageMessage: {
        url: 'https://mmg.whatsapp.net/o1/v/t62.7118-24/fake.enc',
        mimetype: 'image/jpeg',
        fileSha256: randomBytes(32).toString('base64'),
        fileLength: '48213',
        height: 1280,
        width: 960,
        mediaKey: randomBytes(32).toString('base64'),
        fileEncSha256: randomBytes(32).toString('base64'),
        directPath: '/o1/v/t62.7118-24/fake.enc',
        mediaKeyTimestamp: String(Math.floor(now / 1000)),
      },
      messageContextInfo: { deviceListMetadataVersion: 2 },
    };
  } else if (options.textAs === 'extendedTextMessage') {
    messageType = 'extendedTextMessage';
    message = {
      extendedTextMessage: { text, previewType: 'NONE' },
      messageContextInfo: { deviceListMetadataVersion: 2 },
    };
  } else {
    messageType = 'conversation';
    message = { conversation: text, messageContextInfo: { deviceListMetadataVersion: 2 } };
  }
  // Evolution's "webhook base64": the media's bytes in the message itself.
  if (options.media?.inWebhook) message.base64 = options.media.bytes.toString('base64');
  const serverUrl = options.serverUrl ?? 'http://localhost:8080';
  return {
    event: 'messages.upsert',
    instance: options.instance,
    data: {
      key: {
        remoteJid: options.remoteJid,
        fromMe,
        id: options.id ?? '3EB0' + randomBytes(8).toString('hex').toUpperCase(),
        ...(isGroup ? { participant: '5511900000000@s.whatsapp.net' } : {}),
      },
      pushName: options.pushName ?? (fromMe ? 'Operator' : 'Contact'),
      status: fromMe ? 'SERVER_ACK' : 'DELIVERY_ACK',
      message,
      contextInfo: null,
      messageType,
      messageTimestamp: Math.floor(now / 1000),
      instanceId: randomUUID(),
      source: 'android',
    },
    destination: options.destination ?? 'http://keyway.invalid/hooks/evolution',
    date_time: new Date(now).toISOString(),
    sender: options.sender ?? '5511888880000@s.whatsapp.net',
    server_url: serverUrl,
    apikey: options.apikey ?? randomUUID().toUpperCase(),
  };
}

/** An HTTP server that can stop listening (refusing connections) and listen again on the same port. */
class RestartableListener {
  readonly #handler: (req: IncomingMessage, res: ServerResponse) => void;
  #server: Server | null = null;

  constructor(handler: (req: IncomingMessage, res: ServerResponse) => void) {
    this.#handler = handler;
  }

  async listen(port: number): Promise<number> {
    if (this.#server) return (this.#server.address() as AddressInfo).port;
    const server = createServer(this.#handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

async function waitUntil<T>(check: () => boolean, timeoutMs: number, result: () => T): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return result();
}
