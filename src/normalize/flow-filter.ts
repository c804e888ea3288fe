import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import type { HubbleFlow } from '../schema/flow.ts';
import { dropReasonOf } from './flow.ts';

/**
 * Which Hubble flows ingest publishes. A node sees thousands of flows a second
 * and almost all are ordinary allowed traffic, so only what rules need goes
 * on: every policy drop, every audit-mode verdict, and allowed flows towards a
 * few watched destinations (the cloud metadata service, the kubelet, etcd).
 * Everything else is counted by reason and dropped.
 */

const CIDR = z.string().refine(
  (value) => {
    const [address, bits, extra] = value.split('/');
    const version = isIP(address ?? '');
    if (version === 0 || extra !== undefined) return false;
    if (bits === undefined) return true;
    const n = Number(bits);
    return /^\d{1,3}$/.test(bits) && n <= (version === 4 ? 32 : 128);
  },
  { message: 'expected an IPv4 or IPv6 address or CIDR' },
);

/** Drop reasons that are policy decisions (the same two Cilium's drop-event emitter reports by default). */
export const DEFAULT_POLICY_DROP_REASONS = ['POLICY_DENIED', 'POLICY_DENY', 'AUTH_REQUIRED'];

/** The instance metadata services of AWS, GCP and Azure (169.254.169.254) and AWS's IPv6 one. */
export const DEFAULT_WATCHED_CIDRS = ['169.254.169.254/32', 'fd00:ec2::254/128'];

/** kubelet API and its deprecated read-only port, etcd client and peer. */
export const DEFAULT_WATCHED_PORTS = [10250, 10255, 2379, 2380];

export const FlowFilterOptions = z
  .object({
    /** `drop_reason_desc` values that make a drop a policy drop. */
    policyDropReasons: z
      .array(z.string().regex(/^[A-Z0-9_]{1,64}$/))
      .max(64)
      .default(DEFAULT_POLICY_DROP_REASONS),
    /** Publish `AUDIT` verdicts (flows a policy in audit mode would have dropped). */
    audit: z.boolean().default(true),
    /** Publish drops for other reasons too (conntrack, routing, checksum …: noisy, rarely security). */
    otherDrops: z.boolean().default(false),
    /** Allowed flows to these destinations are published. */
    watched: z
      .object({
        cidrs: z.array(CIDR).max(256).default(DEFAULT_WATCHED_CIDRS),
        /** TCP, UDP and SCTP destination ports. */
        ports: z.array(z.number().int().min(1).max(65535)).max(256).default(DEFAULT_WATCHED_PORTS),
      })
      .strict()
      .default({ cidrs: DEFAULT_WATCHED_CIDRS, ports: DEFAULT_WATCHED_PORTS }),
  })
  .strict();
export type FlowFilterOptions = z.infer<typeof FlowFilterOptions>;

/** Why a flow was published, or why it was not: a small fixed set, for metric labels. */
export type FlowDecision =
  | { publish: true; reason: 'policy-drop' | 'audit' | 'watched-destination' | 'other-drop' }
  | { publish: false; reason: 'allowed' | 'other-drop' | 'audit' | 'reply' };

export type FlowFilter = (flow: HubbleFlow) => FlowDecision;

function destinationPort(flow: HubbleFlow): number | undefined {
  const l4 = flow.l4;
  return (l4?.TCP ?? l4?.UDP ?? l4?.SCTP)?.destination_port ?? undefined;
}

export function isL7(flow: HubbleFlow): boolean {
  return flow.Type === 'L7' || Boolean(flow.l7);
}

/**
 * Later packets of a watched connection add nothing: a TCP flow counts when it
 * opens one (SYN without ACK), or when its flags are unknown (field mask).
 */
function opensConnection(flow: HubbleFlow): boolean {
  const flags = flow.l4?.TCP?.flags;
  if (!flow.l4?.TCP || !flags) return true;
  return flags.SYN === true && flags.ACK !== true;
}

/** Compiles the options once (CIDRs into a block list); the filter is pure and cheap per flow. */
export function compileFlowFilter(options: FlowFilterOptions): FlowFilter {
  const policyReasons = new Set(options.policyDropReasons);
  const cidrs = new BlockList();
  for (const cidr of options.watched.cidrs) {
    const [address, bits] = cidr.split('/') as [string, string | undefined];
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    cidrs.addSubnet(address, bits === undefined ? (type === 'ipv6' ? 128 : 32) : Number(bits), type);
  }
  const ports = new Set(options.watched.ports);

  const watched = (flow: HubbleFlow): boolean => {
    const ip = flow.IP?.destination;
    const version = ip ? isIP(ip) : 0;
    if (ip && version !== 0 && cidrs.check(ip, version === 6 ? 'ipv6' : 'ipv4')) return true;
    const port = destinationPort(flow);
    return port !== undefined && ports.has(port);
  };

  return (flow) => {
    const verdict = flow.verdict;
    if (verdict === 'DROPPED') {
      const reason = dropReasonOf(flow);
      if (reason !== undefined && policyReasons.has(reason)) return { publish: true, reason: 'policy-drop' };
      // The L7 proxy drops only what an L7 (HTTP, DNS, Kafka) policy rule denies; Hubble gives it no drop reason.
      if (reason === undefined && isL7(flow)) return { publish: true, reason: 'policy-drop' };
      return options.otherDrops
        ? { publish: true, reason: 'other-drop' }
        : { publish: false, reason: 'other-drop' };
    }
    if (verdict === 'AUDIT')
      return options.audit ? { publish: true, reason: 'audit' } : { publish: false, reason: 'audit' };
    if (flow.is_reply === true || flow.reply === true) return { publish: false, reason: 'reply' };
    if (watched(flow) && opensConnection(flow)) return { publish: true, reason: 'watched-destination' };
    return { publish: false, reason: 'allowed' };
  };
}
