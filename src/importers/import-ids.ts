import { createHash } from 'node:crypto';

/** The UUID v5 namespace of Keyway's imports (fixed: changing it would import everything again). */
const IMPORT_NAMESPACE = Buffer.from('6f1c0e5a9b2d4e7f8a3c5d6e7f8091a2', 'hex');

/**
 * The Keyway id of an imported object: a name-based UUID (v5) of where it came from, what it is, the
 * source's id for it and the Keyway user it was imported for. The same source object imported for
 * the same user always gets the same id, so a second run finds what the first wrote by id, and
 * needs no table of its own to remember it; imported for another user (`--owner-map` changed), it
 * is that user's own copy.
 */
export function importedId(source: string, kind: string, sourceId: string, ownerId: string): string {
  const hash = createHash('sha1')
    .update(IMPORT_NAMESPACE)
    .update(`${source}\u0000${kind}\u0000${sourceId}\u0000${ownerId}`)
    .digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
