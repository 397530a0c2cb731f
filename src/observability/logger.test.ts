import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';
import { SecretRedactor } from './secret-redactor.ts';

function capture() {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(line) } };
}

describe('logger redaction', () => {
  const canary = 'sk-canary-' + 'Zx9"q\\uT7'.repeat(3);

  it('removes a registered secret wherever it appears: message, nested field, error text', () => {
    const redactor = new SecretRedactor();
    redactor.register(canary);
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'debug', redactor, destination });
    logger.info(`calling upstream with ${canary}`);
    logger.debug({ upstream: { headers: { 'x-api-key': canary } }, list: [canary] }, 'request');
    logger.error({ err: new Error(`401 for key ${canary}`) }, 'failed');
    expect(lines).toHaveLength(3);
    const output = lines.join('');
    expect(output).not.toContain(canary);
    expect(output).not.toContain(JSON.stringify(canary).slice(1, -1));
    expect(output).toContain('[REDACTED]');
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('removes secret-named fields even when the value was never registered', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'info', redactor: new SecretRedactor(), destination });
    logger.info(
      {
        password: 'hunter2hunter2',
        headers: { authorization: 'Bearer kw_abc' },
        body: { apiKey: 'k-1234567890' },
      },
      'x',
    );
    const entry = JSON.parse(lines[0]!);
    expect(entry.password).toBe('[REDACTED]');
    expect(entry.headers.authorization).toBe('[REDACTED]');
    expect(entry.body.apiKey).toBe('[REDACTED]');
  });

  it('stops redacting a forgotten secret, and ignores values too short to be secrets', () => {
    const redactor = new SecretRedactor();
    redactor.register('short');
    redactor.register('a-long-enough-secret');
    redactor.forget('a-long-enough-secret');
    expect(redactor.redact('short a-long-enough-secret')).toBe('short a-long-enough-secret');
  });
});
