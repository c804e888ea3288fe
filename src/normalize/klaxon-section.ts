import type { NormalizedEvent } from '../schema/event.ts';

type Section = NonNullable<NormalizedEvent['klaxon']>;

/**
 * What the normalizer itself found or did: values it removed, a timestamp it would not use, the processes an
 * event starts. Undefined when there is nothing to say.
 */
export function klaxonSection(parts: {
  redacted: string[];
  claimedTimestamp?: string | undefined;
  processes?: Section['processes'];
}): Section | undefined {
  const section: Section = {};
  if (parts.redacted.length > 0) section.redacted = parts.redacted;
  if (parts.claimedTimestamp !== undefined) section.claimed_timestamp = parts.claimedTimestamp;
  if (parts.processes) section.processes = parts.processes;
  return Object.keys(section).length > 0 ? section : undefined;
}
