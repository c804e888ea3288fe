import { SOURCE_MODULES } from './registry.ts';
import type { SourceSettings, SourcesSettings } from './settings.ts';
import type { PullSource, SourceContext, SourceModule, SourceRoutes } from './types.ts';

/** The configured sources: pull sources running, and the routes of push sources for the ingest server. */
export interface RunningSources {
  routes: SourceRoutes[];
  /** Sources that cannot read now, with the reason (`/readyz` says degraded, not down: the routes still work). */
  problems(): string[];
  stop(): Promise<void>;
}

type Shared = Omit<SourceContext, 'name'>;

async function moduleOf(config: SourceSettings): Promise<SourceModule<SourceSettings>> {
  // The registry pairs each type with its module; TypeScript cannot follow the pairing through the union.
  return (await SOURCE_MODULES[config.type]()) as SourceModule<SourceSettings>;
}

/** Starts every source of `sources:` on the shared accept path; one that fails to start stops the others. */
export async function startSources(sources: SourcesSettings, ctx: Shared): Promise<RunningSources> {
  const running: Array<{ name: string; source: PullSource }> = [];
  const routes: SourceRoutes[] = [];
  try {
    for (const [name, config] of Object.entries(sources)) {
      const module = await moduleOf(config);
      const own = { ...ctx, name, logger: ctx.logger.child({ source: name }) };
      if (module.routes) routes.push(module.routes(config, own));
      if (!module.create) continue;
      const source = module.create(config, own);
      await source.start();
      running.push({ name, source });
    }
  } catch (err) {
    await Promise.allSettled(running.map((r) => r.source.stop()));
    throw err;
  }
  return {
    routes,
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
