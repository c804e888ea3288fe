import { z } from 'zod';
import { bytes, commaList, int, MiB } from '../config-values.ts';
import { FlowFilterOptions } from '../normalize/flow-filter.ts';
import { DropMetricNamespaces } from '../normalize/flow-metric-labels.ts';

const namespaceList = commaList(DropMetricNamespaces);

/**
 * `ingest.flows`: how `POST /v1/flows` takes Hubble flows. A log shipper sends chunks of a few MiB (Fluent Bit
 * about 2 MB, Vector's HTTP sink up to 10 MB), each thousands of flows, almost all of which the volume filter
 * drops: the body and item limits are the route's own, above the audit webhook's batch of 400.
 */
export const FlowsSettings = z
  .object({
    /** Largest body (after decompression), JSON lines or a JSON array. */
    bodyLimit: bytes.default(16 * MiB),
    /** Most records one body may carry. */
    maxItems: int(1, 1_000_000).default(50_000),
    /** Namespaces that get their own series in `klaxon_network_policy_drops_total` (at most 50). */
    metricNamespaces: namespaceList,
    /** Which flows are published (settings file only). */
    filter: FlowFilterOptions.prefault({}),
  })
  .strict()
  .prefault({});
export type FlowsSettings = z.infer<typeof FlowsSettings>;
