import { BlockList, isIP, isIPv4 } from 'node:net';

/**
 * The proxies whose `X-Forwarded-For` is believed (`KEYWAY_TRUSTED_PROXIES`: addresses and CIDR
 * ranges). Empty by default: a client can write any `X-Forwarded-For` it likes, so believing it
 * without a proxy in front would let anyone pick a fresh address for every guess.
 */
export class TrustedProxies {
  readonly #list = new BlockList();
  readonly #empty: boolean;

  /** `entries` as `parseProxyList` returns them. */
  constructor(entries: readonly string[]) {
    this.#empty = entries.length === 0;
    for (const entry of entries) {
      const [address, prefix] = entry.split('/') as [string, string | undefined];
      const family = isIPv4(address) ? 'ipv4' : 'ipv6';
      if (prefix === undefined) this.#list.addAddress(address, family);
      else this.#list.addSubnet(address, Number(prefix), family);
    }
  }

  has(address: string): boolean {
    if (this.#empty) return false;
    return this.#list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
  }
}

/**
 * Splits a comma-separated list of addresses and CIDR ranges (`10.0.0.0/8, ::1`); returns the
 * entries, or the first one that is neither.
 */
export function parseProxyList(text: string): { entries: string[] } | { invalid: string } {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address, prefix, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const maxPrefix = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix);
    if (family === 0 || !prefixOk || extra !== undefined) return { invalid: entry };
  }
  return { entries };
}

/**
 * The address a request came from. The socket's peer, unless the peer is a trusted proxy: then the
 * right-most `X-Forwarded-For` entry that is not a trusted proxy (entries further left were written
 * by the client and prove nothing). An entry that is not an address stops the walk at the last
 * trusted hop, which throttles a whole proxy together rather than believing garbage.
 */
export function resolveClientAddress(
  request: { peer: string | undefined; forwardedFor: string | undefined },
  trusted: TrustedProxies,
): string {
  let address = normalizeAddress(request.peer ?? '');
  if (!address) return 'unknown';
  if (!request.forwardedFor || !trusted.has(address)) return address;
  const hops = request.forwardedFor.split(',').reverse();
  for (const hop of hops) {
    const hopAddress = normalizeAddress(hop.trim());
    if (!hopAddress) return address;
    address = hopAddress;
    if (!trusted.has(address)) return address;
  }
  return address;
}

/**
 * The bucket an address is throttled in: an IPv4 address as it is; an IPv6 address by its /64, the
 * block one subscriber usually gets whole (counting single IPv6 addresses would give an attacker
 * 2^64 fresh ones).
 */
export function throttleBucket(address: string): string {
  if (isIP(address) !== 6) return address;
  return expandIPv6(address).slice(0, 4).join(':') + '::/64';
}

/** `1.2.3.4`, `::ffff:1.2.3.4` → `1.2.3.4`; `[::1]:80`, `1.2.3.4:80` → without the port; else null. */
function normalizeAddress(value: string): string | null {
  let address = value;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1]!;
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(address);
  if (withPort) address = withPort[1]!;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) address = mapped[1]!;
  return isIP(address) === 0 ? null : address.toLowerCase();
}

/** The eight 16-bit groups of an IPv6 address, in lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
  let text = address.split('%')[0]!;
  // An IPv4 tail (`::1.2.3.4`) is two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((group) => parseInt(group, 16).toString(16));
}
