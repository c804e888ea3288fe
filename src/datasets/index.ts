import type { NormalizedEvent } from '../schema/event.ts';
import { auditDataset } from './audit.ts';
import { falcoDataset } from './falco.ts';
import { hubbleDataset } from './hubble.ts';
import type { Dataset } from './types.ts';

export type { Dataset, DatasetFields, IndexKey } from './types.ts';

/**
 * Every dataset Klaxon reads, in the order raw items are recognised: the most specific shape first, audit
 * events (the fallback) last.
 */
export const DATASETS: readonly Dataset[] = [falcoDataset, hubbleDataset, auditDataset];

const BY_NAME = new Map<string, Dataset>(DATASETS.map((d) => [d.name, d]));

/** The dataset of a name (`event.dataset`), or undefined. */
export function datasetNamed(name: string): Dataset | undefined {
  return BY_NAME.get(name);
}

/** The dataset of a normalized event (its `event.dataset` is one of DATASETS: the contract says so). */
export function datasetOf(event: NormalizedEvent): Dataset {
  return BY_NAME.get(event.event.dataset)!;
}

/** The dataset a raw item (a line, an item of a body) is, by shape. */
export function recognize(raw: unknown): Dataset {
  return DATASETS.find((d) => d.recognizes(raw)) ?? auditDataset;
}

/** The dataset a Sigma logsource selects, or undefined. */
export function datasetForLogsource(logsource: Readonly<Record<string, string>>): Dataset | undefined {
  return DATASETS.find((d) => d.selectedBy(logsource));
}

/** `product: kubernetes, service: audit; product: falco; …`: the logsources Klaxon reads, for errors. */
export function knownLogsources(): string {
  return DATASETS.map((d) => d.logsource).join('; ');
}
