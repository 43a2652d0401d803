/**
 * IPv4/IPv6 addresses and CIDR blocks, for mount-target allow-lists and the
 * aws:SourceIp policy condition. An IPv4 address and its IPv4-mapped IPv6
 * form are the same address everywhere.
 */
import net from 'node:net';

/** 16 bytes for IPv6; IPv4 becomes its IPv4-mapped IPv6 form (::ffff:a.b.c.d). Undefined if not an address. */
function parseIpTo16(input: string): { bytes: Uint8Array; v4: boolean } | undefined {
  let a = input.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const kind = net.isIP(a);
  if (kind === 4) {
    const out = new Uint8Array(16);
    out[10] = 0xff;
    out[11] = 0xff;
    a.split('.').forEach((p, i) => (out[12 + i] = Number(p)));
    return { bytes: out, v4: true };
  }
  if (kind !== 6) return undefined;
  // expand "::" and an embedded dotted IPv4 tail
  let groups: number[] = [];
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (it.includes('.')) {
        if (i !== items.length - 1 || net.isIP(it) !== 4) return undefined;
        const q = it.split('.').map(Number) as [number, number, number, number];
        out.push((q[0] << 8) | q[1], (q[2] << 8) | q[3]);
      } else {
        out.push(parseInt(it, 16));
      }
    }
    return out;
  };
  const dbl = a.indexOf('::');
  if (dbl >= 0) {
    const head = parseGroups(a.slice(0, dbl));
    const tail = parseGroups(a.slice(dbl + 2));
    if (!head || !tail) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const g = parseGroups(a);
    if (!g) return undefined;
    groups = g;
  }
  if (groups.length !== 8) return undefined;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return { bytes: out, v4: false };
}

export interface ParsedCidr {
  bytes: Uint8Array;
  /** Prefix length over the 128-bit (IPv4-mapped) form. */
  prefix: number;
}

/** Parses `a.b.c.d/n`, `x::y/n` or a bare address (host route). Throws on invalid input. */
export function parseCidr(cidr: string): ParsedCidr {
  const slash = cidr.indexOf('/');
  const addr = slash >= 0 ? cidr.slice(0, slash) : cidr;
  const ip = parseIpTo16(addr);
  if (!ip) throw new Error(`invalid CIDR ${JSON.stringify(cidr)}: bad address`);
  const max = ip.v4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = cidr.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw new Error(`invalid CIDR ${JSON.stringify(cidr)}: bad prefix length`);
    prefix = Number(p);
  }
  return { bytes: ip.bytes, prefix: ip.v4 ? prefix + 96 : prefix };
}

function matches(c: ParsedCidr, ip: Uint8Array): boolean {
  let bits = c.prefix;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((c.bytes[i]! & mask) !== (ip[i]! & mask)) return false;
  }
  return true;
}

/**
 * True when `address` lies in `cidr`. IPv4 and IPv6; an IPv4 address and its
 * IPv4-mapped IPv6 form (`::ffff:10.0.0.1`, what a dual-stack listener
 * reports) are the same address on both sides. Invalid `address` -> false;
 * invalid `cidr` throws.
 */
export function cidrContains(cidr: string | ParsedCidr, address: string): boolean {
  const c = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
  const ip = parseIpTo16(address);
  if (!ip) return false;
  return matches(c, ip.bytes);
}

/** An `allow` function for createFrontListener from a list of CIDRs (empty list = allow all). */
export function cidrAllowList(cidrs: readonly string[]): (address: string) => boolean {
  const parsed = cidrs.map(parseCidr);
  if (parsed.length === 0) return () => true;
  return (address) => {
    const ip = parseIpTo16(address);
    return ip !== undefined && parsed.some((c) => matches(c, ip.bytes));
  };
}

/** The addresses that mean "every address of this machine" to listen(). */
export const isWildcard = (host: string): boolean => host === '0.0.0.0' || host === '::';
