import { isIP } from 'node:net';

/**
 * Which upstream addresses an admin lets Keyway call besides the public internet. Loopback is on by
 * default so a local Ollama works; private ranges are opt-in because they usually hold internal services.
 */
export interface UpstreamPolicy {
  allowLoopback: boolean;
  allowPrivate: boolean;
}

/** The public internet only. */
export const PUBLIC_ONLY: UpstreamPolicy = Object.freeze({ allowLoopback: false, allowPrivate: false });

/**
 * The policy by who owns a credential (or bot): an admin's (and a shared one's, which only admins
 * make) is what the operator configured; a member's is `PUBLIC_ONLY` in every deployment, so a member
 * cannot use Keyway to read services on its host or network. (Tests whose fake providers listen on
 * loopback widen `members` through the composition root; no setting does.)
 */
export interface UpstreamPolicies {
  admins: UpstreamPolicy;
  members: UpstreamPolicy;
}

export function policyForOwner(policies: UpstreamPolicies, ownerIsAdmin: boolean): UpstreamPolicy {
  return ownerIsAdmin ? policies.admins : policies.members;
}

/** `forbidden` addresses are refused whatever the policy says. */
export type AddressKind = 'public' | 'loopback' | 'private' | 'forbidden';

export interface AddressClass {
  kind: AddressKind;
  /** Names the range in words, for messages: `link-local (where cloud metadata services live)`. */
  range: string;
}

interface Range {
  bytes: number[];
  prefixLength: number;
  kind: AddressKind;
  range: string;
}

const PUBLIC: AddressClass = { kind: 'public', range: 'public' };
const LINK_LOCAL = 'link-local (where cloud metadata services live)';

// First match wins, so the metadata hosts come before the private ranges that contain them.
const IPV4_RANGES: Range[] = [
  v4('100.100.100.200/32', 'forbidden', 'the Alibaba Cloud metadata service'),
  v4('0.0.0.0/8', 'forbidden', '"this network" (0.0.0.0/8)'),
  v4('169.254.0.0/16', 'forbidden', LINK_LOCAL),
  v4('224.0.0.0/4', 'forbidden', 'multicast'),
  v4('240.0.0.0/4', 'forbidden', 'reserved (240.0.0.0/4)'),
  v4('127.0.0.0/8', 'loopback', 'loopback'),
  v4('10.0.0.0/8', 'private', 'private (10.0.0.0/8)'),
  v4('172.16.0.0/12', 'private', 'private (172.16.0.0/12)'),
  v4('192.168.0.0/16', 'private', 'private (192.168.0.0/16)'),
  v4('100.64.0.0/10', 'private', 'shared address space (100.64.0.0/10, carrier-grade NAT)'),
];

const IPV6_RANGES: Range[] = [
  v6('::1/128', 'loopback', 'loopback'),
  v6('::/128', 'forbidden', 'the unspecified address (::)'),
  v6('fd00:ec2::254/128', 'forbidden', 'the AWS metadata service (IPv6)'),
  v6('fe80::/10', 'forbidden', LINK_LOCAL),
  v6('ff00::/8', 'forbidden', 'multicast'),
  v6('fc00::/7', 'private', 'private (fc00::/7, unique local)'),
  v6('fec0::/10', 'private', 'private (fec0::/10, site-local)'),
  // The deprecated IPv4-compatible form: never a real upstream, and an easy way to disguise an IPv4.
  v6('::/96', 'forbidden', 'IPv4-compatible IPv6 (::/96, deprecated)'),
];

// IPv6 forms that deliver to an embedded IPv4 address: judged by that address.
const IPV4_CARRIERS: { range: Range; offset: number }[] = [
  { range: v6('::ffff:0:0/96', 'public', 'IPv4-mapped'), offset: 12 },
  { range: v6('64:ff9b::/96', 'public', 'NAT64'), offset: 12 },
  { range: v6('2002::/16', 'public', '6to4'), offset: 2 },
];

/** Names the range an IP address (v4 or v6, optionally `[bracketed]`) falls in; `undefined` if not an IP. */
export function classifyAddress(ip: string): AddressClass | undefined {
  const address = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const version = isIP(address);
  if (version === 4) return classifyBytes(parseIPv4(address), IPV4_RANGES);
  if (version !== 6) return undefined;
  const bytes = parseIPv6(address);
  for (const carrier of IPV4_CARRIERS) {
    if (matches(bytes, carrier.range)) {
      return classifyBytes(bytes.slice(carrier.offset, carrier.offset + 4), IPV4_RANGES);
    }
  }
  return classifyBytes(bytes, IPV6_RANGES);
}

/** Whether Keyway may open a connection to this IP address under the policy. Anything not an IP: no. */
export function isAddressAllowed(ip: string, policy: UpstreamPolicy): boolean {
  const kind = classifyAddress(ip)?.kind;
  if (kind === 'public') return true;
  if (kind === 'loopback') return policy.allowLoopback;
  if (kind === 'private') return policy.allowPrivate;
  return false;
}

/**
 * The check a base URL gets when it is saved: http or https only, no user name or password, and a
 * literal IP host must be allowed. Host names are only judged when they resolve, at connect time.
 */
export function checkUpstreamUrl(
  url: string,
  policy: UpstreamPolicy,
): { ok: true } | { ok: false; message: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, message: 'This is not a valid URL.' };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return { ok: false, message: 'The URL must start with http:// or https://.' };
  }
  if (parsed.username !== '' || parsed.password !== '') {
    return {
      ok: false,
      message: 'The URL must not contain a user name or password; put the key in the credential instead.',
    };
  }
  const refusal = addressRefusal(parsed.hostname, policy);
  return refusal === undefined ? { ok: true } : { ok: false, message: refusal };
}

/** Says why Keyway will not call this IP address, or `undefined` when it may (or when it is not an IP). */
export function addressRefusal(ip: string, policy: UpstreamPolicy): string | undefined {
  const found = classifyAddress(ip);
  if (found === undefined || isAddressAllowed(ip, policy)) return undefined;
  const shown = ip.startsWith('[') ? ip.slice(1, -1) : ip;
  if (found.kind === 'forbidden') return `${shown} is ${found.range}; Keyway never calls it.`;
  const setting = found.kind === 'loopback' ? 'loopback' : 'private-network';
  return `${shown} is ${found.range}, and this Keyway does not allow ${setting} upstreams.`;
}

function classifyBytes(bytes: number[], ranges: Range[]): AddressClass {
  const found = ranges.find((range) => matches(bytes, range));
  return found === undefined ? PUBLIC : { kind: found.kind, range: found.range };
}

function matches(bytes: number[], range: Range): boolean {
  if (bytes.length !== range.bytes.length) return false;
  for (let bit = 0; bit < range.prefixLength; bit += 8) {
    const remaining = range.prefixLength - bit;
    const mask = remaining >= 8 ? 0xff : (0xff << (8 - remaining)) & 0xff;
    const index = bit / 8;
    if (((bytes[index] ?? 0) & mask) !== ((range.bytes[index] ?? 0) & mask)) return false;
  }
  return true;
}

function v4(cidr: string, kind: AddressKind, range: string): Range {
  const [address = '', length = ''] = cidr.split('/');
  return { bytes: parseIPv4(address), prefixLength: Number(length), kind, range };
}

function v6(cidr: string, kind: AddressKind, range: string): Range {
  const [address = '', length = ''] = cidr.split('/');
  return { bytes: parseIPv6(address), prefixLength: Number(length), kind, range };
}

function parseIPv4(address: string): number[] {
  return address.split('.').map(Number);
}

/** 16 bytes from an address `isIP` accepted as IPv6 (zone index, `::` and a dotted IPv4 tail allowed). */
function parseIPv6(address: string): number[] {
  const withoutZone = address.split('%')[0] ?? '';
  const [head = '', tail] = withoutZone.split('::');
  const groups = (part: string | undefined): number[] => {
    if (part === undefined || part === '') return [];
    return part.split(':').flatMap((group) => {
      if (group.includes('.')) {
        const [a = 0, b = 0, c = 0, d = 0] = parseIPv4(group);
        return [(a << 8) | b, (c << 8) | d];
      }
      return [parseInt(group, 16)];
    });
  };
  const left = groups(head);
  const right = groups(tail);
  const middle = tail === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...middle, ...right].flatMap((group) => [group >> 8, group & 0xff]);
}
