/** The one refusal of a file whose text cannot be read; `reason` is stable, the message is for people. */
import { KeywayError } from '../errors.ts';

export function unreadable(message: string, reason: string, cause?: unknown): KeywayError {
  return new KeywayError('file_unreadable', `The file's text cannot be read: ${message}.`, {
    fix: 'Upload an unprotected, undamaged copy of the file.',
    details: { reason },
    cause,
  });
}
