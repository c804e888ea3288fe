import { once } from 'node:events';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { kafkaBusFromSettings } from '../bus/index.ts';
import { BUILTIN_RULES_DIR, loadConfig, type Settings } from '../config.ts';
import { mergeRecords } from '../detect/first-seen/state.ts';
import { Detector, loadRules } from '../detect/index.ts';
import { loadPlaceholders, type PlaceholderSources } from '../detect/placeholder-files.ts';
import { createLogger } from '../log.ts';
import { normalizeAny } from '../normalize/index.ts';
import { type Alert, Level } from '../schema/alert.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import type { FirstSeenChange } from '../schema/first-seen.ts';
import { expandPaths, readRecords } from '../sources/files.ts';
import { FileFirstSeenLog, type FirstSeenLog, KafkaFirstSeenLog } from '../worker/first-seen-log.ts';
import {
  chooseFormat,
  formatAlertText,
  type OutputFormat,
  parseFormat,
  parseLevel,
  useColor,
} from './format.ts';
import { FORMAT_HELP, FORMAT_OPTION } from './output-flags.ts';
import { contentSize, ReplayProgress } from './replay-progress.ts';

const LEVELS = Level.options;

async function writeLine(out: Writable, line: string): Promise<void> {
  if (!out.write(line)) await once(out, 'drain');
}

interface Head {
  event: NormalizedEvent;
  time: number;
}

/** What a file's reader tells the progress line: each record read, and the end of the file. */
interface ReadObserver {
  record(raw: unknown): void;
  done(): void;
}

/** One file's valid events, in file order; bad records are reported as they are met. */
async function* fileEvents(
  file: string,
  cluster: string,
  bad: (where: string, reason: string, skip?: boolean) => Promise<void>,
  counts: { records: number },
  observer?: ReadObserver,
): AsyncGenerator<Head> {
  for await (const record of readRecords(file)) {
    observer?.record('raw' in record ? record.raw : undefined);
    if ('error' in record) {
      await bad(record.where, record.error);
      continue;
    }
    counts.records++;
    const result = normalizeAny(record.raw, { cluster });
    if (!result.ok) {
      await bad(record.where, result.reason, result.skip);
      continue;
    }
    const time = Date.parse(result.event['@timestamp']);
    yield { event: result.event, time: Number.isFinite(time) ? time : 0 };
  }
  observer?.done();
}

/**
 * Merges the files by event time (each file is read in its own order), so an
 * audit log and a Falco log of the same hours correlate as they did live.
 */
async function* merged(sources: AsyncGenerator<Head>[]): AsyncGenerator<NormalizedEvent> {
  const heads: (Head | undefined)[] = [];
  for (const s of sources) heads.push((await s.next()).value ?? undefined);
  for (;;) {
    let best = -1;
    for (let k = 0; k < heads.length; k++) {
      const h = heads[k];
      if (h && (best < 0 || h.time < heads[best]!.time)) best = k;
    }
    if (best < 0) return;
    yield heads[best]!.event;
    heads[best] = (await sources[best]!.next()).value ?? undefined;
  }
}

export interface ReplayOptions {
  rules: string[];
  cluster: string;
  minLevel: Level;
  failOn?: Level;
  /** Print every revision as it is raised, instead of each alert once in its final state. */
  stream: boolean;
  /** JSON lines (default) or one text line per alert. */
  format?: OutputFormat;
  color?: boolean;
  /** Values of the rules' `%placeholders%`: name → file or inline list (`--placeholder name=FILE`). */
  placeholders?: PlaceholderSources;
  /** Least time between two redraws of the progress line (stderr on a terminal only). Default 250 ms. */
  progressEveryMs?: number;
  /**
   * `--warm-first-seen`: learn the first-seen rules' state from the files, alerting on nothing, and merge it
   * into the store `serve` or `detect` read it from.
   */
  warm?: { log: FirstSeenLog; where: string };
}

/**
 * Replays audit, Falco and Hubble flow files through the detections. Alerts are JSON lines (or text) on
 * `out`; bad records (`file:line: reason`), progress and a summary on `err`.
 * Returns the exit code.
 */
export async function runReplay(
  paths: readonly string[],
  opts: ReplayOptions,
  out: Writable,
  err: Writable & { isTTY?: boolean },
): Promise<number> {
  const { store, problems } = loadPlaceholders(opts.placeholders ?? {});
  for (const p of problems) await writeLine(err, `placeholder ${p.name}: ${p.reason}\n`);
  const { ruleset, errors } = loadRules(opts.rules, { placeholders: store });
  for (const e of errors) await writeLine(err, `${e.where}: ${e.reason}\n`);
  if (ruleset.rules.length === 0) {
    await writeLine(err, `klaxon replay: no loadable rules in ${opts.rules.join(', ')}\n`);
    return 1;
  }
  const { files, errors: pathErrors } = await expandPaths(paths);
  for (const e of pathErrors) await writeLine(err, `${e.path}: ${e.error}\n`);
  if (files.length === 0) {
    await writeLine(err, 'klaxon replay: no input file\n');
    return 1;
  }

  if (opts.warm && ruleset.firstSeen.length === 0) {
    await writeLine(err, 'klaxon replay: --warm-first-seen: no first_seen rule loaded\n');
    return 1;
  }
  const detector = new Detector(ruleset, { firstSeenLearnOnly: opts.warm !== undefined });
  const min = LEVELS.indexOf(opts.minLevel);
  const failAt = opts.failOn ? LEVELS.indexOf(opts.failOn) : Number.POSITIVE_INFINITY;
  const counts = { records: 0, bad: 0, skipped: 0, events: 0 };
  const final = new Map<string, Alert>();
  const byRule = new Map<string, number>();
  let failed = false;
  const line = (a: Alert) =>
    opts.format === 'text' ? formatAlertText(a, opts.color === true) : JSON.stringify(a);

  // On a terminal only: a pipe or a file gets the bad records and the summary, nothing else.
  const progress =
    err.isTTY === true
      ? new ReplayProgress(await Promise.all(files.map(contentSize)), {
          write: (text) => err.write(text),
          everyMs: opts.progressEveryMs ?? 250,
        })
      : undefined;
  const bad = async (where: string, reason: string, skip?: boolean) => {
    if (skip) counts.skipped++;
    else counts.bad++;
    progress?.clear();
    await writeLine(err, `${where}: ${skip ? 'skipped, ' : ''}${reason}\n`);
  };
  const emit = async (alerts: Alert[]) => {
    for (const a of alerts) {
      const level = LEVELS.indexOf(a.klaxon.severity);
      if (level < min) continue;
      if (a.klaxon.revision === 0) byRule.set(a.rule.name, (byRule.get(a.rule.name) ?? 0) + 1);
      if (level >= failAt) failed = true;
      if (opts.stream) {
        progress?.clear();
        await writeLine(out, `${line(a)}\n`);
      } else {
        // Re-inserting keeps first-raised order while the latest revision wins.
        final.set(a.klaxon.alert_id, a);
      }
    }
  };

  const sources = files.map((f, i) =>
    fileEvents(
      f,
      opts.cluster,
      bad,
      counts,
      progress && { record: (raw) => progress.record(i, raw), done: () => progress.fileDone(i) },
    ),
  );
  for await (const event of merged(sources)) {
    counts.events++;
    const raised = detector.process(event);
    if (!opts.warm) await emit(raised);
    progress?.event();
  }
  progress?.clear();
  if (opts.warm) {
    const saved = await warmFirstSeen(detector, opts.warm.log);
    await writeLine(
      err,
      `klaxon replay: ${files.length} file(s), ${counts.events} event(s), ${counts.bad} bad; first-seen state of ` +
        `${ruleset.firstSeen.length} rule(s): ${saved.keys} key(s) learned, ${saved.written} record(s) written to ${opts.warm.where}\n`,
    );
    return 0;
  }
  await emit(detector.flush());
  for (const a of final.values()) await writeLine(out, `${line(a)}\n`);

  const fired = [...byRule.entries()].map(([r, n]) => `${r}=${n}`).join(', ');
  await writeLine(
    err,
    `klaxon replay: ${files.length} file(s), ${counts.records} record(s), ${counts.events} event(s), ${counts.bad} bad` +
      `${counts.skipped > 0 ? `, ${counts.skipped} skipped (no event in them)` : ''}; ` +
      `${[...byRule.values()].reduce((a, b) => a + b, 0)} alert(s)${fired ? ` (${fired})` : ''}\n`,
  );
  return failed ? 1 : 0;
}

/** Merges what the replay learned into what the store holds, and writes the keys that changed. */
async function warmFirstSeen(
  detector: Detector,
  log: FirstSeenLog,
): Promise<{ keys: number; written: number }> {
  const learned = detector.firstSeenSnapshot();
  try {
    const stored = new Map((await log.loadAll()).map((c) => [c.key, c.record]));
    const merged: FirstSeenChange[] = [];
    for (const { key, record } of learned) {
      if (!record) continue;
      const before = stored.get(key);
      merged.push({ key, record: before ? mergeRecords(before, record) : record });
    }
    await log.save(merged);
    return { keys: learned.length, written: merged.length };
  } finally {
    await log.close();
  }
}

/** The first-seen store of the settings (`KAFKA_BROKERS`, `KLAXON_FIRST_SEEN_TOPIC`, `KLAXON_STATE_DIR`). */
function warmTarget(settings: Settings): { log: FirstSeenLog; where: string } {
  const { kafka } = settings;
  if (kafka.brokers && kafka.brokers.length > 0) {
    const bus = kafkaBusFromSettings(settings, kafka.brokers, createLogger(settings.log.level));
    return {
      log: new KafkaFirstSeenLog({
        kafka: bus.kafka,
        topic: kafka.firstSeenTopic,
        partitions: kafka.eventsPartitions,
        replicationFactor: kafka.replicationFactor,
        signals: { topic: kafka.signalsTopic },
      }),
      where: `Kafka topic ${kafka.firstSeenTopic}`,
    };
  }
  return {
    log: new FileFirstSeenLog(settings.state.dir),
    where: join(settings.state.dir, 'first-seen.jsonl'),
  };
}

function placeholderFlags(flags: string[]): PlaceholderSources {
  const out: PlaceholderSources = {};
  for (const f of flags) {
    const eq = f.indexOf('=');
    if (eq <= 0 || eq === f.length - 1) throw new Error(`--placeholder wants name=file, got "${f}"`);
    out[f.slice(0, eq)] = f.slice(eq + 1);
  }
  return out;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description(
      'Run the detections over audit log, Falco alert and Hubble flow files; alerts on stdout (text on a terminal, else JSON lines).',
    )
    .argument(
      '<paths...>',
      'files or directories (JSON lines, EventList or JSON arrays, Falco JSON lines, Hubble exporter files and hubble observe -o jsonpb output, .gz)',
    )
    .option(
      '--rules <dir>',
      'rule file or directory (repeatable; default detections/)',
      (v, prev: string[]) => [...prev, v],
      [],
    )
    .option('--cluster <name>', 'cluster name for orchestrator.cluster.name', 'replay')
    .option('--min-level <level>', 'print only alerts at this level or above', 'informational')
    .option('--fail-on <level>', 'exit 1 when an alert at this level or above fired')
    .option(FORMAT_OPTION, FORMAT_HELP)
    .option('--stream', 'print every alert revision as it is raised (default: each alert once, final)')
    .option(
      '--warm-first-seen',
      "learn the first-seen rules' state from the files without alerting, into the store serve and detect read (the Kafka topic with KAFKA_BROKERS, else state.dir); --cluster names the cluster",
    )
    .option(
      '--placeholder <name=file>',
      'values of a rule %placeholder% (Sigma expand), one a line (repeatable)',
      (v, prev: string[]) => [...prev, v],
      [],
    )
    .action(
      async (
        paths: string[],
        o: {
          rules: string[];
          cluster: string;
          minLevel: string;
          failOn?: string;
          stream?: boolean;
          format?: string;
          placeholder: string[];
          warmFirstSeen?: boolean;
        },
      ) => {
        process.stdout.on('error', (error: NodeJS.ErrnoException) => {
          if (error.code === 'EPIPE') process.exit(0);
          throw error;
        });
        let opts: ReplayOptions;
        try {
          const isTTY = process.stdout.isTTY === true;
          const format = chooseFormat(o.format === undefined ? undefined : parseFormat(o.format), isTTY);
          opts = {
            rules: o.rules.length > 0 ? o.rules : [BUILTIN_RULES_DIR],
            cluster: o.cluster,
            minLevel: parseLevel(o.minLevel),
            failOn: o.failOn === undefined ? undefined : parseLevel(o.failOn, '--fail-on'),
            stream: o.stream === true,
            format,
            color: format === 'text' && useColor(isTTY, process.env),
            placeholders: placeholderFlags(o.placeholder),
            warm: o.warmFirstSeen ? warmTarget(loadConfig(process.env)) : undefined,
          };
        } catch (e) {
          process.stderr.write(`klaxon replay: ${(e as Error).message}\n`);
          process.exitCode = 1;
          return;
        }
        process.exitCode = await runReplay(paths, opts, process.stdout, process.stderr);
      },
    );
}
