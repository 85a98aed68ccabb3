/**
 * Outbound URL safety for webhook endpoints. Only http(s). In production mode, targets on
 * loopback, private, link-local, unique-local or otherwise non-public addresses are refused
 * unless allow-listed; in test mode loopback and private networks are allowed so local
 * development works, but link-local (cloud metadata services) still is not.
 * Checked when an endpoint is saved and again, after DNS resolution, at every delivery.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

export interface UrlPolicy {
  production: boolean;
  /** Host names or addresses/CIDRs allowed even when private. */
  allow: string[];
}

const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');

const LOOPBACK_AND_PRIVATE = new BlockList();
for (const [net, bits] of [['127.0.0.0', 8], ['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['100.64.0.0', 10], ['0.0.0.0', 8]] as const) {
  LOOPBACK_AND_PRIVATE.addSubnet(net, bits, 'ipv4');
}
LOOPBACK_AND_PRIVATE.addAddress('::1', 'ipv6');
LOOPBACK_AND_PRIVATE.addAddress('::', 'ipv6');
LOOPBACK_AND_PRIVATE.addSubnet('fc00::', 7, 'ipv6');

const RESERVED = new BlockList();
for (const [net, bits] of [['224.0.0.0', 4], ['240.0.0.0', 4], ['192.0.0.0', 24], ['198.18.0.0', 15]] as const) RESERVED.addSubnet(net, bits, 'ipv4');

function allowListed(host: string, address: string | undefined, policy: UrlPolicy): boolean {
  for (const entry of policy.allow) {
    if (entry.toLowerCase() === host.toLowerCase()) return true;
    if (!address) continue;
    const [net, bits] = entry.split('/');
    const family = isIP(net);
    if (!family) continue;
    const list = new BlockList();
    if (bits) list.addSubnet(net, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
    else list.addAddress(net, family === 6 ? 'ipv6' : 'ipv4');
    if (list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')) return true;
  }
  return false;
}

/** Why this address may not be a target, or undefined when it may. */
export function addressRefusal(host: string, address: string, policy: UrlPolicy): string | undefined {
  if (allowListed(host, address, policy)) return undefined;
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return addressRefusal(host, mapped[1], policy);
  if (LINK_LOCAL.check(address, family)) return `${address} is a link-local address`;
  if (RESERVED.check(address, family)) return `${address} is a reserved address`;
  if (policy.production && LOOPBACK_AND_PRIVATE.check(address, family)) return `${address} is a loopback or private address`;
  return undefined;
}

/** Static checks of a URL (scheme, credentials, literal addresses). Returns a reason to refuse, or undefined. */
export function urlRefusal(raw: string, policy: UrlPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'it is not a valid absolute URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'only http and https URLs are allowed';
  if (url.username || url.password) return 'URLs with credentials are not allowed';
  // A trailing dot names the same host (fully qualified): judge it without.
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (isIP(host)) return addressRefusal(host, host, policy);
  if (policy.production && /^(localhost|.*\.localhost|.*\.local|.*\.internal)$/i.test(host) && !allowListed(host, undefined, policy)) {
    return `${host} is a local host name`;
  }
  return undefined;
}

/** Resolves the URL's host and checks every address it resolves to (DNS rebinding included). */
export async function resolvedRefusal(raw: string, policy: UrlPolicy): Promise<string | undefined> {
  const stat = urlRefusal(raw, policy);
  if (stat) return stat;
  const host = new URL(raw).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return undefined;
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true });
  } catch (err) {
    return `cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? 'DNS error'}`;
  }
  for (const a of addresses) {
    const why = addressRefusal(host, a.address, policy);
    if (why) return `${host} resolves to ${why}`;
  }
  return undefined;
}
