import type { Context, Hono } from 'hono';
import { z } from 'zod';
import { KeywayError } from '../errors.ts';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import type { FileRecord } from './files.repository.ts';
import type { FilesService } from './files.service.ts';

/** The one `/api` route whose bodies are files: it has a body limit of its own (src/app.ts). */
export const FILE_UPLOAD_PATH = '/api/files';

/** Room for the multipart framing around the file (boundaries, part headers, the `name` field). */
export const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

const fileSchema = z.object({
  id: z.string(),
  name: z.string(),
  mediaType: z.string().describe('What the bytes were detected as, not what the client declared.'),
  kind: z.enum(['document', 'image']),
  sizeBytes: z.number(),
  sha256: z.string(),
  createdAt: z.string(),
});

const view = (file: FileRecord) => ({ ...file, createdAt: file.createdAt.toISOString() });

/** Files: upload (multipart), list, metadata, content, delete; each user sees only their own. */
export function registerFilesRoutes(app: Hono<AppEnv>, api: ApiRegistry, files: FilesService): void {
  api.add(
    app,
    {
      method: 'post',
      path: FILE_UPLOAD_PATH,
      summary:
        'Upload a file as multipart/form-data: a `file` part and an optional `name` field. Its type is detected from its bytes (docs/files.md).',
      tag: 'files',
      auth: 'user',
      response: fileSchema,
      status: 201,
    },
    async ({ c, principal }) => {
      const form = await readForm(c);
      const part = form.get('file');
      if (!(part instanceof File)) {
        throw new KeywayError('validation_failed', 'Send the file in a multipart part named `file`.', {
          details: { field: 'file' },
        });
      }
      const name = form.get('name');
      if (name !== null && typeof name !== 'string') {
        throw new KeywayError('validation_failed', 'The `name` field must be text.', {
          details: { field: 'name' },
        });
      }
      if (part.size > files.maxBytes) {
        throw new KeywayError(
          'payload_too_large',
          `The file is larger than the limit of ${files.maxBytes} bytes.`,
        );
      }
      const content = new Uint8Array(await part.arrayBuffer());
      const record = await files.create(principal, { name: name || part.name, content });
      return c.json(view(record), 201);
    },
  );

  api.add(
    app,
    {
      method: 'get',
      path: '/api/files',
      summary: 'Your files, newest first.',
      tag: 'files',
      auth: 'user',
      query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(500) }),
      response: z.array(fileSchema),
    },
    async ({ c, query, principal }) => c.json((await files.list(principal, query)).map(view)),
  );

  api.add(
    app,
    {
      method: 'get',
      path: '/api/files/:id',
      summary: "One of your files' metadata.",
      tag: 'files',
      auth: 'user',
      response: fileSchema,
    },
    async ({ c, principal }) => c.json(view(await files.get(principal, c.req.param('id')!))),
  );

  api.add(
    app,
    {
      method: 'get',
      path: '/api/files/:id/content',
      summary:
        'The bytes of one of your files: images inline with their type, everything else as a download; text (HTML included) as text/plain.',
      tag: 'files',
      auth: 'user',
    },
    async ({ c, principal }) => {
      const { file, content } = await files.content(principal, c.req.param('id')!);
      return new Response(content, { status: 200, headers: contentHeaders(file) });
    },
  );

  api.add(
    app,
    {
      method: 'delete',
      path: '/api/files/:id',
      summary: 'Delete one of your files (and everything made from it).',
      tag: 'files',
      auth: 'user',
      status: 204,
    },
    async ({ c, principal }) => {
      await files.delete(principal, c.req.param('id')!);
      return c.body(null, 204);
    },
  );
}

/** The multipart form; another content type is 415, a malformed body 400. */
async function readForm(c: Context<AppEnv>): Promise<FormData> {
  if (!/^multipart\/form-data\s*;/i.test(c.req.header('content-type') ?? '')) {
    throw new KeywayError(
      'unsupported_media_type',
      'Send the file as multipart/form-data: a `file` part and an optional `name` field.',
    );
  }
  try {
    return await c.req.formData();
  } catch (error) {
    // The body limit counts a chunked body as it is read and throws from inside the parse.
    if (error instanceof KeywayError) throw error;
    throw new KeywayError('invalid_request', 'The request body is not valid multipart/form-data.');
  }
}

/**
 * Headers that keep a stored file from ever running as a page of this origin: no sniffing, a CSP
 * that allows nothing, text of every kind (HTML included) as plain text, only images inline.
 */
export function contentHeaders(file: FileRecord): Record<string, string> {
  const inline = file.kind === 'image';
  const type = inline
    ? file.mediaType
    : file.mediaType.startsWith('text/') || isTextLike(file.mediaType)
      ? 'text/plain; charset=utf-8'
      : file.mediaType;
  return {
    'content-type': type,
    'content-length': String(file.sizeBytes),
    'content-disposition': `${inline ? 'inline' : 'attachment'}; ${dispositionFilename(file.name)}`,
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'private, no-store',
  };
}

const isTextLike = (mediaType: string) =>
  ['application/json', 'application/xml', 'application/yaml'].includes(mediaType);

/** `filename` as ASCII (for old clients) and `filename*` as UTF-8 (RFC 6266). */
function dispositionFilename(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%;]/g, '_');
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
