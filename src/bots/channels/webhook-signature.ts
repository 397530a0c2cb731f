import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The signature Keyway puts on every webhook it sends: HMAC-SHA256 over `<timestamp>.<body>` under
 * the bot's inbound secret, as `x-keyway-signature: v1=<hex>` with `x-keyway-timestamp: <unix s>`.
 * Receivers recompute it and refuse old timestamps (replays).
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The receiver's side (used by tests and shown in the README): constant-time, 5-minute window. */
export function verifyWebhook(
  secret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const timestamp = Number(headers.timestamp);
  if (!headers.signature || !Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > 300)
    return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const actual = Buffer.from(headers.signature);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
