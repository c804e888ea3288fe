import { SOURCE_MODULES } from './registry.ts';
import type { SourceSettings, SourcesSettings } from './settings.ts';
import type { PullSource, SourceContext, SourceModule } from './types.ts';

/** The configured pull sources, running. */
export interface RunningSources {
  /** Sources that cannot read now, with the reason (`/readyz` says degraded, not down: the routes still work). */
  problems(): string[];
  stop(): Promise<void>;
}

type Shared = Omit<SourceContext, 'name'>;

async function create(name: string, config: SourceSettings, ctx: Shared): Promise<PullSource> {
  // The registry pairs each type with its module; TypeScript cannot follow the pairing through the union.
  const module = (await SOURCE_MODULES[config.type]()) as SourceModule<SourceSettings>;
  return module.create(config, { ...ctx, name, logger: ctx.logger.child({ source: name }) });
}

/** Starts every source of `sources:` on the shared accept path; one that fails to start stops the others. */
export async function startSources(sources: SourcesSettings, ctx: Shared): Promise<RunningSources> {
  const running: Array<{ name: string; source: PullSource }> = [];
  try {
    for (const [name, config] of Object.entries(sources)) {
      const source = await create(name, config, ctx);
      await source.start();
      running.push({ name, source });
    }
  } catch (err) {
    await Promise.allSettled(running.map((r) => r.source.stop()));
    throw err;
  }
  return {
    problems: () =>
      running.flatMap(({ name, source }) => {
        const s = source.status();
        return s.ok ? [] : [`${name}: ${s.reason ?? 'not reading'}`];
      }),
    stop: async () => {
      await Promise.allSettled(running.map((r) => r.source.stop()));
    },
  };
}
