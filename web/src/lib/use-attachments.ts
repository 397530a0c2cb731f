import { useCallback, useState, type DragEvent } from 'react';
import { uploadFile } from '../api/client.ts';
import type { StoredFile } from '../api/types.ts';
import type { PendingFile } from '../components/attachments.tsx';
import { dragHasFiles, filesOf, uploadErrorText } from './knowledge.ts';

let keys = 0;
const nextKey = () => `k${++keys}`;

/**
 * Files for the next message: each is uploaded as soon as it is chosen and shows as uploading, then
 * uploaded or refused with the reason (also given to `onRefused`, for a screen reader).
 */
export function usePendingFiles(onRefused: (message: string) => void) {
  const [pending, setPending] = useState<PendingFile[]>([]);

  const attach = useCallback(
    (chosen: File[]) => {
      for (const file of chosen) {
        const key = nextKey();
        const name = file.name || 'pasted file';
        const update = (change: Partial<PendingFile>) =>
          setPending((list) => list.map((item) => (item.key === key ? { ...item, ...change } : item)));
        setPending((list) => [...list, { key, name, file: null, error: null }]);
        uploadFile<StoredFile>(file)
          .then((stored) => update({ file: stored }))
          .catch((error: unknown) => {
            const message = uploadErrorText(name, error);
            onRefused(message);
            update({ error: message });
          });
      }
    },
    [onRefused],
  );

  return {
    pending,
    attach,
    /** True while any upload is still on its way: sending waits. */
    uploading: pending.some((item) => item.file === null && item.error === null),
    /** The uploaded files, in the order they were chosen. */
    uploaded: pending.flatMap((item) => (item.file ? [item.file] : [])),
    remove: (key: string) => setPending((list) => list.filter((item) => item.key !== key)),
    clear: () => setPending([]),
    /** Puts files back (a refused message returns to the composer with them). */
    restore: (files: StoredFile[]) =>
      setPending(files.map((file) => ({ key: nextKey(), name: file.name, file, error: null }))),
  };
}

/**
 * Drag-and-drop of files onto an element: `dragging` while files hover over it, `onFiles` on a drop.
 * Drags that carry no files (text, links) are left to the browser.
 */
export function useFileDrop(onFiles: (files: File[]) => void, enabled = true) {
  const [dragging, setDragging] = useState(false);
  const handlers = {
    onDragOver: (event: DragEvent) => {
      if (!enabled || !dragHasFiles(event.dataTransfer)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      setDragging(true);
    },
    onDragLeave: (event: DragEvent) => {
      if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
    },
    onDrop: (event: DragEvent) => {
      setDragging(false);
      const dropped = filesOf(event.dataTransfer);
      if (!enabled || dropped.length === 0) return;
      event.preventDefault();
      onFiles(dropped);
    },
  };
  return { dragging, handlers };
}
