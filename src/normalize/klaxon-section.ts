import type { NormalizedEvent } from '../schema/event.ts';

/** What the normalizer itself did to an event: values it removed, a timestamp it would not use. */
export function klaxonSection(
  redacted: string[],
  claimedTimestamp: string | undefined,
): NormalizedEvent['klaxon'] {
  if (redacted.length === 0 && claimedTimestamp === undefined) return undefined;
  const section: NonNullable<NormalizedEvent['klaxon']> = {};
  if (redacted.length > 0) section.redacted = redacted;
  if (claimedTimestamp !== undefined) section.claimed_timestamp = claimedTimestamp;
  return section;
}
