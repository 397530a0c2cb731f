import { describe, expect, it } from 'vitest';
import { checkUpstreamUrl, isAddressAllowed } from './upstream-url-guard.ts';
import type { UpstreamPolicy } from './upstream-url-guard.ts';

const strict: UpstreamPolicy = { allowLoopback: false, allowPrivate: false };
const loopbackOnly: UpstreamPolicy = { allowLoopback: true, allowPrivate: false };
const permissive: UpstreamPolicy = { allowLoopback: true, allowPrivate: true };

describe('isAddressAllowed', () => {
  // [address, strict, loopback allowed, loopback and private allowed]
  it.each([
    ['8.8.8.8', true, true, true],
    ['1.1.1.1', true, true, true],
    ['2606:4700:4700::1111', true, true, true],
    ['::ffff:8.8.8.8', true, true, true],
    // Cloud metadata services: never, whatever the policy.
    ['169.254.169.254', false, false, false],
    ['::ffff:169.254.169.254', false, false, false],
    ['::ffff:a9fe:a9fe', false, false, false],
    ['64:ff9b::169.254.169.254', false, false, false],
    ['2002:a9fe:a9fe::1', false, false, false],
    ['169.254.0.1', false, false, false],
    ['fe80::1', false, false, false],
    ['fe80::1%eth0', false, false, false],
    ['febf::1', false, false, false],
    ['100.100.100.200', false, false, false],
    ['fd00:ec2::254', false, false, false],
    ['0.0.0.0', false, false, false],
    ['0.1.2.3', false, false, false],
    ['::', false, false, false],
    ['224.0.0.1', false, false, false],
    ['239.255.255.250', false, false, false],
    ['ff02::1', false, false, false],
    ['255.255.255.255', false, false, false],
    ['::127.0.0.1', false, false, false],
    // Loopback: only when the admin allows it (the default, so local models work).
    ['127.0.0.1', false, true, true],
    ['127.8.9.10', false, true, true],
    ['::1', false, true, true],
    ['::ffff:127.0.0.1', false, true, true],
    // Private networks: only when the admin allows them.
    ['10.0.0.1', false, false, true],
    ['172.16.0.1', false, false, true],
    ['172.31.255.255', false, false, true],
    ['192.168.1.10', false, false, true],
    ['100.64.0.1', false, false, true],
    ['100.127.255.255', false, false, true],
    ['fc00::1', false, false, true],
    ['fd12:3456::1', false, false, true],
    ['::ffff:10.0.0.1', false, false, true],
    // Just outside the private ranges.
    ['172.32.0.1', true, true, true],
    ['100.128.0.1', true, true, true],
    ['11.0.0.1', true, true, true],
  ])('%s: strict %s, loopback %s, private %s', (address, whenStrict, whenLoopback, whenPermissive) => {
    expect(isAddressAllowed(address, strict)).toBe(whenStrict);
    expect(isAddressAllowed(address, loopbackOnly)).toBe(whenLoopback);
    expect(isAddressAllowed(address, permissive)).toBe(whenPermissive);
  });

  it('refuses anything that is not an IP address', () => {
    expect(isAddressAllowed('localhost', permissive)).toBe(false);
    expect(isAddressAllowed('', permissive)).toBe(false);
  });
});

describe('checkUpstreamUrl', () => {
  it('accepts a public https URL and a host name (judged when it resolves)', () => {
    expect(checkUpstreamUrl('https://api.openai.com/v1', strict)).toEqual({ ok: true });
    expect(checkUpstreamUrl('http://localhost:11434', strict)).toEqual({ ok: true });
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 is link-local'],
    ['http://[::ffff:169.254.169.254]/', 'link-local'],
    ['http://[fd00:ec2::254]/', 'the AWS metadata service'],
    ['http://100.100.100.200/latest/meta-data/', 'the Alibaba Cloud metadata service'],
    // WHATWG URL parsing turns these spellings into 169.254.169.254 before the check sees them.
    ['http://0xa9fea9fe/', 'link-local'],
    ['http://2852039166/', 'link-local'],
  ])('refuses %s whatever the policy', (url, why) => {
    const verdict = checkUpstreamUrl(url, permissive);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.message).toContain(why);
  });

  it('refuses loopback and private literals unless the policy allows them', () => {
    expect(checkUpstreamUrl('http://127.0.0.1:11434', strict)).toEqual({
      ok: false,
      message: '127.0.0.1 is loopback, and this Keyway does not allow loopback upstreams.',
    });
    expect(checkUpstreamUrl('http://127.0.0.1:11434', loopbackOnly)).toEqual({ ok: true });
    expect(checkUpstreamUrl('http://[::1]:11434', loopbackOnly)).toEqual({ ok: true });
    expect(checkUpstreamUrl('http://10.0.0.5:8000/v1', loopbackOnly).ok).toBe(false);
    expect(checkUpstreamUrl('http://10.0.0.5:8000/v1', permissive)).toEqual({ ok: true });
  });

  it.each([
    ['ftp://example.com/', 'must start with http:// or https://'],
    ['file:///etc/passwd', 'must start with http:// or https://'],
    ['https://user:pass@example.com/', 'must not contain a user name or password'],
    ['https://', 'not a valid URL'],
  ])('refuses %s', (url, why) => {
    const verdict = checkUpstreamUrl(url, permissive);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.message).toContain(why);
  });
});
