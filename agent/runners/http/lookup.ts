/**
 * Host lookups for the HTTP runner. The default is `dns.lookup`, the operating system's resolver
 * (getaddrinfo: honours /etc/hosts and nsswitch; Node keeps no cache of its own). {@link lookupVia}
 * instead asks specific DNS servers directly, e.g. to probe through a given resolver.
 */
import { lookup as systemLookup, type LookupAddress, type Resolver } from 'node:dns';
import type { Lookup } from './connector.ts';

export const defaultLookup: Lookup = systemLookup;

/**
 * A lookup that queries `resolver`'s servers (see `dns.Resolver#setServers`) for A records, and for
 * AAAA records when the name has no A record. Errors keep c-ares' codes: `ENOTFOUND` for NXDOMAIN,
 * `ESERVFAIL`, `ETIMEOUT`, `ENODATA`, `EREFUSED`...
 */
export function lookupVia(resolver: Resolver): Lookup & { description: string } {
  const lookup: Lookup = (hostname, options, callback) => {
    const answer = (addresses: LookupAddress[]): void => {
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    };
    resolver.resolve4(hostname, (error4, v4) => {
      if (!error4 && v4.length > 0) return answer(v4.map((address) => ({ address, family: 4 })));
      if (error4 && error4.code !== 'ENODATA') return callback(error4, '');
      resolver.resolve6(hostname, (error6, v6) => {
        if (error6) return callback(error6, '');
        if (v6.length === 0) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENODATA' }), '');
        answer(v6.map((address) => ({ address, family: 6 })));
      });
    });
  };
  // How the network facts name this resolver.
  return Object.assign(lookup, { description: `DNS ${resolver.getServers().join(', ')}`.slice(0, 200) });
}
