/** Starts a download of a same-origin GET (the server answers `content-disposition: attachment`). */
export function download(path: string): void {
  const link = document.createElement('a');
  link.href = path;
  link.download = '';
  link.rel = 'noopener';
  document.body.append(link);
  link.click();
  link.remove();
}

export type ExportFormat = 'json' | 'markdown';

export const conversationExportPath = (id: string, format: ExportFormat) =>
  `/api/conversations/${encodeURIComponent(id)}/export?format=${format}`;

export const allConversationsExportPath = (format: ExportFormat) =>
  `/api/export/conversations?format=${format}`;
