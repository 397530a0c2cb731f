/** A DOCX's text, one section per heading: the ZIP checked first, then mammoth to HTML, then the HTML reader. */
import { messageOf } from '../errors.ts';
import { htmlToSections } from './html-text.ts';
import type { Section } from './sections.ts';
import { unreadable } from './unreadable.ts';
import { checkZip, type ZipLimits } from './zip-check.ts';

export async function extractDocx(bytes: Uint8Array, limits: ZipLimits): Promise<{ sections: Section[] }> {
  // Before mammoth inflates anything: sizes declared in the central directory, then each entry inflated
  // with its declared size as a hard ceiling, so a ZIP that lies about its sizes is caught too.
  await checkZip(bytes, limits);
  const mammoth = (await import('mammoth')).default;
  let html: string;
  try {
    const result = await mammoth.convertToHtml(
      { buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) },
      {
        externalFileAccess: false,
        // Images are not text; without this mammoth would inline each one as a data URI.
        convertImage: mammoth.images.imgElement(() => Promise.resolve({ src: '' })),
      },
    );
    html = result.value;
  } catch (error) {
    throw unreadable(`the DOCX is damaged (${messageOf(error)})`, 'corrupt', error);
  }
  return { sections: htmlToSections(html) };
}
