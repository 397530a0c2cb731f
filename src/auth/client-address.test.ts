import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.ts';
import { parseProxyList, resolveClientAddress, throttleBucket, TrustedProxies } from './client-address.ts';

const trusted = (list: string) => {
  const parsed = parseProxyList(list);
  if (!('entries' in parsed)) throw new Error(`invalid: ${parsed.invalid}`);
  return new TrustedProxies(parsed.entries);
};

describe('the client address of a sign-in', () => {
  it('is the peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const none = trusted('');
    expect(resolveClientAddress({ peer: '198.51.100.1', forwardedFor: '1.1.1.1' }, none)).toBe(
      '198.51.100.1',
    );
    expect(resolveClientAddress({ peer: '::ffff:198.51.100.1', forwardedFor: undefined }, none)).toBe(
      '198.51.100.1',
    );
    expect(resolveClientAddress({ peer: undefined, forwardedFor: '1.1.1.1' }, none)).toBe('unknown');
  });

  it('is the right-most address that is not a trusted proxy', () => {
    const proxies = trusted('10.0.0.0/8, 2001:db8::1');
    const from = (peer: string, forwardedFor: string) =>
      resolveClientAddress({ peer, forwardedFor }, proxies);
    expect(from('10.0.0.1', 'spoofed, 203.0.113.5')).toBe('203.0.113.5');
    expect(from('10.0.0.1', '1.1.1.1, 203.0.113.5, 10.9.9.9')).toBe('203.0.113.5');
    expect(from('2001:db8::1', '203.0.113.5:4711')).toBe('203.0.113.5');
    expect(from('10.0.0.1', '[2001:db8:1::5]:443')).toBe('2001:db8:1::5');
    // An untrusted peer's header is never read.
    expect(from('192.0.2.1', '203.0.113.5')).toBe('192.0.2.1');
    // Every hop trusted: the left-most; garbage stops the walk at the last trusted hop.
    expect(from('10.0.0.1', '10.0.0.2')).toBe('10.0.0.2');
    expect(from('10.0.0.1', '203.0.113.5, not-an-address')).toBe('10.0.0.1');
  });

  it('throttles IPv6 by /64, IPv4 by address', () => {
    expect(throttleBucket('2001:db8:aa:bb:1:2:3:4')).toBe('2001:db8:aa:bb::/64');
    expect(throttleBucket('2001:db8:aa:bb::ffff')).toBe(throttleBucket('2001:0db8:00aa:00bb:9::1'));
    expect(throttleBucket('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(throttleBucket('::1')).toBe('0:0:0:0::/64');
    expect(throttleBucket('203.0.113.5')).toBe('203.0.113.5');
  });

  it('reads KEYWAY_TRUSTED_PROXIES as addresses and CIDR ranges, and names a bad entry', () => {
    expect(loadConfig({}, {}).trustedProxies).toEqual([]);
    expect(loadConfig({}, { KEYWAY_TRUSTED_PROXIES: '10.0.0.0/8, ::1 ,fd00::/8' }).trustedProxies).toEqual([
      '10.0.0.0/8',
      '::1',
      'fd00::/8',
    ]);
    for (const bad of ['10.0.0.0/33', 'proxy.internal', '10.0.0.1/8/2', '::1/129'])
      expect(() => loadConfig({}, { KEYWAY_TRUSTED_PROXIES: `127.0.0.1,${bad}` })).toThrow(
        new RegExp(`KEYWAY_TRUSTED_PROXIES.*"${bad.replace(/[./]/g, '\\$&')}"`),
      );
  });
});
