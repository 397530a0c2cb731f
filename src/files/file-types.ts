import { KeywayError } from '../errors.ts';
import type { FileKind } from '../db/tables.ts';
import { readZipDirectory } from './zip-directory.ts';

/** What an uploaded file was found to be. */
export interface DetectedType {
  mediaType: string;
  kind: FileKind;
  /** For messages: "a PDF document", "a PNG image". */
  label: string;
}

interface BinaryType extends DetectedType {
  extensions: readonly string[];
}

const PDF: BinaryType = {
  mediaType: 'application/pdf',
  kind: 'document',
  label: 'a PDF document',
  extensions: ['pdf'],
};
const DOCX: BinaryType = {
  mediaType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  kind: 'document',
  label: 'a Word document (DOCX)',
  extensions: ['docx'],
};
const PNG: BinaryType = { mediaType: 'image/png', kind: 'image', label: 'a PNG image', extensions: ['png'] };
const JPEG: BinaryType = {
  mediaType: 'image/jpeg',
  kind: 'image',
  label: 'a JPEG image',
  extensions: ['jpg', 'jpeg', 'jfif'],
};
const GIF: BinaryType = { mediaType: 'image/gif', kind: 'image', label: 'a GIF image', extensions: ['gif'] };
const WEBP: BinaryType = {
  mediaType: 'image/webp',
  kind: 'image',
  label: 'a WebP image',
  extensions: ['webp'],
};

/** Binary types Keyway stores, by magic number. */
const ACCEPTED_BINARY = [PDF, DOCX, PNG, JPEG, GIF, WEBP] as const;

/** Extensions that name something Keyway refuses: a file named so is refused whatever it holds. */
const REFUSED_EXTENSIONS: Record<string, string> = {
  exe: 'a Windows executable',
  dll: 'a Windows library',
  msi: 'a Windows installer',
  scr: 'a Windows executable',
  com: 'a DOS executable',
  bat: 'a Windows batch script',
  cmd: 'a Windows batch script',
  ps1: 'a PowerShell script',
  vbs: 'a VBScript',
  jar: 'a Java archive',
  apk: 'an Android package',
  dmg: 'a disk image',
  so: 'a shared library',
  dylib: 'a shared library',
  svg: 'an SVG image (it can carry scripts)',
  doc: 'a legacy Word document (save it as DOCX)',
};

/** Text kinds, chosen by extension once the bytes are known to be text. */
const TEXT_TYPES: Record<string, { mediaType: string; label: string }> = {
  md: { mediaType: 'text/markdown', label: 'Markdown' },
  markdown: { mediaType: 'text/markdown', label: 'Markdown' },
  txt: { mediaType: 'text/plain', label: 'plain text' },
  text: { mediaType: 'text/plain', label: 'plain text' },
  log: { mediaType: 'text/plain', label: 'plain text' },
  html: { mediaType: 'text/html', label: 'HTML' },
  htm: { mediaType: 'text/html', label: 'HTML' },
  csv: { mediaType: 'text/csv', label: 'CSV' },
  json: { mediaType: 'application/json', label: 'JSON' },
  xml: { mediaType: 'application/xml', label: 'XML' },
  yaml: { mediaType: 'application/yaml', label: 'YAML' },
  yml: { mediaType: 'application/yaml', label: 'YAML' },
  css: { mediaType: 'text/css', label: 'CSS' },
  js: { mediaType: 'text/javascript', label: 'JavaScript' },
  mjs: { mediaType: 'text/javascript', label: 'JavaScript' },
  cjs: { mediaType: 'text/javascript', label: 'JavaScript' },
};

/** Source code: stored as text of its language; `text/x-<language>` (there is no registered type). */
const CODE_EXTENSIONS: Record<string, string> = {
  ts: 'typescript',
  tsx: 'typescript',
  jsx: 'javascript',
  py: 'python',
  rb: 'ruby',
  go: 'go',
  rs: 'rust',
  java: 'java',
  kt: 'kotlin',
  swift: 'swift',
  c: 'c',
  h: 'c',
  cc: 'c++',
  cpp: 'c++',
  hpp: 'c++',
  cs: 'csharp',
  php: 'php',
  sh: 'shellscript',
  bash: 'shellscript',
  zsh: 'shellscript',
  sql: 'sql',
  toml: 'toml',
  ini: 'ini',
  lua: 'lua',
  r: 'r',
  scala: 'scala',
  dart: 'dart',
  vue: 'vue',
  svelte: 'svelte',
};

/** The lowercased extension of a file name, or '' when it has none. */
export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/**
 * What a file is, from its bytes; the name's extension only chooses among text kinds and must not
 * contradict the bytes (`photo.png` holding a JPEG is refused, naming both). Executables, other
 * binaries and invalid text are refused with 415 `unsupported_media_type` naming what was found.
 * A script with a shebang is text and accepted as source code: it is stored and served back as
 * plain text, never run.
 */
export function detectFileType(bytes: Uint8Array, name: string): DetectedType {
  const extension = extensionOf(name);
  const refusedByName = REFUSED_EXTENSIONS[extension];
  const found = detectBinary(bytes);
  if (found && 'refused' in found) {
    throw unsupported(`"${name}" is ${found.refused}; Keyway does not accept executables or archives.`);
  }
  if (refusedByName)
    throw unsupported(`"${name}" is named as ${refusedByName}, which Keyway does not accept.`);
  if (found) {
    const claimed = claimedType(extension);
    if (claimed && !found.extensions.includes(extension)) {
      throw unsupported(
        `"${name}" is named as ${claimed} but its content is ${found.label}. Rename it or upload the right file.`,
      );
    }
    const { mediaType, kind, label } = found;
    return { mediaType, kind, label };
  }
  const text = textProblem(bytes);
  if (text) throw unsupported(`"${name}" is ${text}; Keyway accepts ${ACCEPTED_SUMMARY}.`);
  const binaryClaim = ACCEPTED_BINARY.find((type) => type.extensions.includes(extension));
  if (binaryClaim) {
    throw unsupported(`"${name}" is named as ${binaryClaim.label} but its content is text.`);
  }
  const textType = TEXT_TYPES[extension];
  if (textType) return { mediaType: textType.mediaType, kind: 'document', label: textType.label };
  const language = CODE_EXTENSIONS[extension];
  if (language)
    return { mediaType: `text/x-${language}`, kind: 'document', label: `${language} source code` };
  return { mediaType: 'text/plain', kind: 'document', label: 'plain text' };
}

const ACCEPTED_SUMMARY =
  'PDF, DOCX, PNG, JPEG, GIF and WebP files, and UTF-8 text (Markdown, plain text, HTML, CSV, source code)';

function unsupported(message: string): KeywayError {
  return new KeywayError('unsupported_media_type', message);
}

/** The label of whatever an extension names, when it names a type Keyway knows. */
function claimedType(extension: string): string | undefined {
  if (!extension) return undefined;
  const binary = ACCEPTED_BINARY.find((type) => type.extensions.includes(extension));
  if (binary) return binary.label;
  const text = TEXT_TYPES[extension];
  if (text) return text.label;
  const language = CODE_EXTENSIONS[extension];
  return language ? `${language} source code` : undefined;
}

const startsWith = (bytes: Uint8Array, prefix: readonly number[], at = 0) =>
  bytes.length >= at + prefix.length && prefix.every((byte, index) => bytes[at + index] === byte);
const ascii = (text: string) => [...text].map((char) => char.charCodeAt(0));

/** An accepted binary type, something refused by its magic number, or undefined (maybe text). */
function detectBinary(bytes: Uint8Array): BinaryType | { refused: string } | undefined {
  if (startsWith(bytes, ascii('%PDF-'))) return PDF;
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return PNG;
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return JPEG;
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return GIF;
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return WEBP;
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04]) || startsWith(bytes, [0x50, 0x4b, 0x05, 0x06])) {
    const entries = zipEntryNames(bytes);
    if (entries?.has('[Content_Types].xml') && entries.has('word/document.xml')) return DOCX;
    if (entries?.has('META-INF/MANIFEST.MF')) return { refused: 'a Java archive (JAR)' };
    return { refused: 'a ZIP archive that is not a Word document' };
  }
  if (startsWith(bytes, ascii('MZ'))) return { refused: 'a Windows executable (MZ header)' };
  if (startsWith(bytes, [0x7f, 0x45, 0x4c, 0x46])) return { refused: 'an ELF executable' };
  for (const magic of [
    [0xfe, 0xed, 0xfa, 0xce],
    [0xfe, 0xed, 0xfa, 0xcf],
    [0xce, 0xfa, 0xed, 0xfe],
    [0xcf, 0xfa, 0xed, 0xfe],
    [0xca, 0xfe, 0xba, 0xbe],
  ]) {
    if (startsWith(bytes, magic)) return { refused: 'a Mach-O executable (or a Java class)' };
  }
  if (startsWith(bytes, [0x00, 0x61, 0x73, 0x6d])) return { refused: 'a WebAssembly module' };
  if (startsWith(bytes, [0x1f, 0x8b])) return { refused: 'a gzip archive' };
  if (startsWith(bytes, ascii('7z')) && startsWith(bytes, [0xbc, 0xaf, 0x27, 0x1c], 2))
    return { refused: 'a 7-Zip archive' };
  if (startsWith(bytes, ascii('Rar!'))) return { refused: 'a RAR archive' };
  if (startsWith(bytes, [0xd0, 0xcf, 0x11, 0xe0]))
    return { refused: 'a legacy Office document (save it as DOCX)' };
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Why the bytes are not acceptable text, or undefined when they are UTF-8 without NUL bytes. */
function textProblem(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return 'binary data (it holds NUL bytes)';
  try {
    utf8.decode(bytes);
    return undefined;
  } catch {
    return 'binary data or text that is not UTF-8';
  }
}

/** At most this many central directory entries are read: a DOCX has a few dozen. */
const MAX_ZIP_ENTRIES = 10_000;

/**
 * The entry names of a ZIP's central directory, read without decompressing anything; undefined when
 * the directory is missing, ZIP64 or inconsistent.
 */
export function zipEntryNames(bytes: Uint8Array): Set<string> | undefined {
  const directory = readZipDirectory(bytes, MAX_ZIP_ENTRIES);
  return 'entries' in directory ? new Set(directory.entries.map((entry) => entry.name)) : undefined;
}
