/** A PDF's text, one section per page, read with unpdf (pdf.js) within a page and a character budget. */
import { KeywayError, messageOf } from '../errors.ts';
import { tidyWhitespace, type Section } from './sections.ts';
import { unreadable } from './unreadable.ts';

/** The limits `extractPdf` applies; `extractText`'s options carry them (`EXTRACT_DEFAULTS`). */
export interface PdfLimits {
  /** A PDF with more pages is refused before any text is read. */
  maxPages: number;
  /** Counted while pages are read, so a huge PDF is stopped early. */
  maxTextChars: number;
}

export async function extractPdf(
  bytes: Uint8Array,
  limits: PdfLimits,
): Promise<{ sections: Section[]; pages: number }> {
  const { getDocumentProxy } = await import('unpdf');
  // pdf.js may detach the buffer it is given; the caller's bytes stay theirs.
  const data = new Uint8Array(bytes);
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // pdf.js recovers what it can from a damaged file (a broken cross-reference table) and says so on
    // the console; verbosity 0 keeps the server's log for Keyway's own lines.
    pdf = await getDocumentProxy(data, { verbosity: 0 });
  } catch (error) {
    throw pdfError(error);
  }
  try {
    if (pdf.numPages > limits.maxPages) {
      throw unreadable(
        `the PDF has ${pdf.numPages} pages, over the limit of ${limits.maxPages}`,
        'too_many_pages',
      );
    }
    const sections: Section[] = [];
    let total = 0;
    for (let number = 1; number <= pdf.numPages; number++) {
      const page = await pdf.getPage(number);
      const content = await page.getTextContent();
      let text = '';
      for (const item of content.items) {
        if ('str' in item) text += item.str + (item.hasEOL ? '\n' : '');
      }
      page.cleanup();
      text = tidyWhitespace(text.replaceAll('\0', ''));
      total += text.length;
      // Stop reading as soon as the budget is spent, not after every page is in memory.
      if (total > limits.maxTextChars) {
        throw unreadable(
          `the PDF holds more than ${limits.maxTextChars} characters of text`,
          'too_much_text',
        );
      }
      if (text !== '') sections.push({ text, page: number, headings: [] });
    }
    return { sections, pages: pdf.numPages };
  } catch (error) {
    throw pdfError(error);
  } finally {
    await pdf.destroy();
  }
}

function pdfError(error: unknown): KeywayError {
  if (error instanceof KeywayError) return error;
  const name = error instanceof Error ? error.name : '';
  if (name === 'PasswordException') {
    return unreadable('the PDF is encrypted with a password', 'encrypted', error);
  }
  if (name === 'InvalidPDFException') {
    return unreadable('the bytes are not a valid PDF', 'corrupt', error);
  }
  return unreadable(`the PDF is damaged (${messageOf(error)})`, 'corrupt', error);
}
