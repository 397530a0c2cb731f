import fs from 'node:fs/promises';
import path from 'node:path';
import { KeywayError } from '../errors.ts';
import { ApiClient, table } from './api-client.ts';
import { parseFlags, type CliIO } from './common.ts';

const USAGE = [
  'keyway files add PATH… [--name NAME]   uploads files (--name only with one PATH); prints their ids',
  'keyway files list [--json]',
  'keyway files rm ID',
  'Accepted: PDF, DOCX, PNG, JPEG, GIF, WebP and UTF-8 text (Markdown, text, HTML, CSV, code); see docs/files.md.',
  'All take --url (or KEYWAY_URL) and use the token from `keyway login` or KEYWAY_TOKEN.',
].join('\n');

/** What `/api/files` answers (docs/files.md). */
interface FileView {
  id: string;
  name: string;
  mediaType: string;
  kind: 'document' | 'image';
  sizeBytes: number;
  createdAt: string;
}

/** `keyway files …`: upload, list and delete your files through the HTTP API. */
export async function filesCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'help' || sub === '--help' || sub === '-h') {
    io.out(USAGE + '\n');
    return 0;
  }
  const { values, positionals } = parseFlags(
    rest,
    { url: { type: 'string' }, json: { type: 'boolean' }, name: { type: 'string' } },
    USAGE,
  );
  switch (sub) {
    case 'add': {
      if (positionals.length === 0) throw usage('`files add` needs at least one path.');
      if (values.name !== undefined && positionals.length > 1) throw usage('--name goes with a single path.');
      // Every file is read before anything is sent: a missing path uploads nothing.
      const uploads = await Promise.all(positionals.map(readLocalFile));
      const api = ApiClient.fromEnvironment(io, values);
      for (const upload of uploads) {
        const form = new FormData();
        form.set('file', new Blob([upload.bytes]), upload.name);
        if (values.name !== undefined) form.set('name', values.name);
        const file = await api.call<FileView>('POST', '/api/files', form);
        if (values.json) io.out(JSON.stringify(file) + '\n');
        else io.out(`${file.id}  ${file.name} (${file.mediaType}, ${formatSize(file.sizeBytes)})\n`);
      }
      return 0;
    }
    case 'list': {
      if (positionals.length > 0) throw usage(`Unexpected argument "${positionals[0]}" for \`files list\`.`);
      const files = await ApiClient.fromEnvironment(io, values).call<FileView[]>('GET', '/api/files');
      if (values.json) io.out(JSON.stringify(files) + '\n');
      else
        io.out(
          table(
            files.map((file) => ({
              id: file.id,
              name: file.name,
              type: file.mediaType,
              size: formatSize(file.sizeBytes),
              uploaded: file.createdAt.slice(0, 16).replace('T', ' '),
            })),
            ['id', 'name', 'type', 'size', 'uploaded'],
          ),
        );
      return 0;
    }
    case 'rm': {
      if (positionals.length !== 1) throw usage('`files rm` needs one file id.');
      const id = positionals[0]!;
      await ApiClient.fromEnvironment(io, values).call('DELETE', `/api/files/${encodeURIComponent(id)}`);
      io.out(`Deleted file ${id}.\n`);
      return 0;
    }
    default:
      throw usage(sub ? `Unknown files command: ${sub}` : 'files needs a command.');
  }
}

async function readLocalFile(file: string): Promise<{ name: string; bytes: Uint8Array }> {
  try {
    return { name: path.basename(file), bytes: await fs.readFile(file) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new KeywayError(
      'usage',
      code === 'ENOENT' ? `No such file: ${file}` : `Cannot read ${file} (${code ?? 'error'}).`,
    );
  }
}

/** 1536 → "1.5 KiB". */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function usage(message: string): KeywayError {
  return new KeywayError('usage', message, { fix: USAGE });
}
