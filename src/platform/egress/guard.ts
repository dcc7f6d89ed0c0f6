/**
 * The one way Sluice calls out (model servers, identity providers' key sets, whatever comes
 * next): `egressFor(policy).fetch`, undici's fetch over an Agent whose every connection is
 * checked against the policy (policy.ts) at connect time:
 * - a host name is resolved by the connection's own DNS lookup, which drops refused addresses
 *   and fails when none is left, so a name that resolves (or re-resolves, "DNS rebinding") into
 *   a refused network is never connected to;
 * - an IP literal, which skips DNS, is checked before connecting (redirect targets included:
 *   the check is on the connection, not on the URL first given);
 * - the socket's peer address is checked once more after connecting, in case a future Node
 *   or undici path connects without our lookup.
 * A refusal of what a name resolved to is marked `afterLookup`: told to whoever chose the
 * name, it would say what an internal name resolves to (a DNS oracle), so callers answer it as
 * a server that could not be reached and keep the reason for the operator's log.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type Socket, type TcpNetConnectOpts } from 'node:net';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import { assertCallableUrl, EgressRefusedError, refusalOf, refusalOfHost, type PrivateNetworkPolicy } from './policy.js';

export interface Egress {
  readonly policy: PrivateNetworkPolicy;
  /** For undici calls that need the dispatcher itself. */
  readonly dispatcher: Agent;
  /** `fetch`, guarded. A refusal rejects with EgressRefusedError (unwrapped from undici's TypeError). */
  fetch(url: string, init?: RequestInit): Promise<Response>;
}

const egresses = new WeakMap<PrivateNetworkPolicy, Egress>();

/** The guarded client for a policy: one per policy, so connections are pooled across calls. */
export function egressFor(policy: PrivateNetworkPolicy): Egress {
  let egress = egresses.get(policy);
  if (!egress) {
    const dispatcher = guardedAgent(policy);
    egress = {
      policy,
      dispatcher,
      async fetch(url, init = {}) {
        assertCallableUrl(policy, url);
        try {
          return (await undiciFetch(url, { ...(init as object), dispatcher })) as unknown as Response;
        } catch (error) {
          const cause = (error as { cause?: unknown }).cause;
          throw cause instanceof EgressRefusedError ? cause : error;
        }
      },
    };
    egresses.set(policy, egress);
  }
  return egress;
}

function guardedAgent(policy: PrivateNetworkPolicy): Agent {
  const connectDirectly = buildConnector({ lookup: guardedLookup(policy) });
  return new Agent({
    connect(options, callback) {
      const host = options.hostname.replace(/^\[|\]$/g, '');
      const early = isIP(host) ? refusalOfHost(policy, host) : undefined;
      if (early) return callback(new EgressRefusedError(host, early), null);
      connectDirectly(options, (error, socket) => {
        if (error) return callback(error, null);
        const peer = (socket as Socket).remoteAddress;
        const refusal = peer ? refusalOf(policy, peer) : undefined;
        if (refusal) {
          socket!.destroy();
          return callback(new EgressRefusedError(host, refusal, !isIP(host)), null);
        }
        return callback(null, socket!);
      });
    },
  });
}

/** dns.lookup, keeping only allowed addresses; fails the connection when none is left. */
function guardedLookup(policy: PrivateNetworkPolicy): TcpNetConnectOpts['lookup'] {
  return (hostname, options, callback) => {
    // Metadata names are refused unresolved; everything else (localhost included) by what it resolves to.
    if (refusalOfHost(policy, hostname) === 'METADATA_ADDRESS') return callback(new EgressRefusedError(hostname, 'METADATA_ADDRESS'), '', 0);
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const allowed = addresses.filter((entry) => !refusalOf(policy, entry.address));
      if (allowed.length === 0) {
        const reason = addresses.some((entry) => refusalOf(policy, entry.address) === 'METADATA_ADDRESS') ? 'METADATA_ADDRESS' : 'PRIVATE_ADDRESS';
        return callback(new EgressRefusedError(hostname, reason, true), '', 0);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, allowed);
      return callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}
