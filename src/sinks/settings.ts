import { z } from 'zod';
import { AlertmanagerSinkSettings } from './alertmanager-settings.ts';
import { OtlpSinkSettings } from './otlp-settings.ts';
import { SplunkHecSinkSettings } from './splunk-hec-settings.ts';
import { SyslogSinkSettings } from './syslog-settings.ts';

/**
 * The `sinks:` section of the settings file: named, typed instances, one schema per type
 * (next to each sink), told apart by `type`. Unknown keys are refused with their path
 * (`sinks.qradar: Unrecognized key "prot"`). Secrets are named by file (`tokenFile`,
 * `keyFile`, `headersFile`), never given inline.
 */

/** Names of the sinks configured by their own sections: an instance may not take them. */
export const BUILTIN_SINK_NAMES = ['elasticsearch', 'alertmanager', 'kafka', 'jsonl'] as const;

/** A metrics label and a directory name: short, lower case, no path characters. */
const SINK_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Why a name cannot name a sink instance, or undefined when it can. */
export function sinkNameProblem(name: string): string | undefined {
  if (!SINK_NAME.test(name)) return 'a sink name is lower case letters, digits, "_" and "-", at most 63';
  if ((BUILTIN_SINK_NAMES as readonly string[]).includes(name))
    return `${BUILTIN_SINK_NAMES.join(', ')} name the sinks of their own sections`;
  return undefined;
}

export const SinkSettings = z.discriminatedUnion('type', [
  SyslogSinkSettings,
  OtlpSinkSettings,
  SplunkHecSinkSettings,
  AlertmanagerSinkSettings,
]);
export type SinkSettings = z.infer<typeof SinkSettings>;

export const SinksSettings = z
  .record(z.string(), SinkSettings)
  .superRefine((sinks, ctx) => {
    for (const name of Object.keys(sinks)) {
      const problem = sinkNameProblem(name);
      if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
    }
  })
  .default({});
export type SinksSettings = z.infer<typeof SinksSettings>;
