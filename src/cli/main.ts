import { Command } from 'commander';
import { describeListenError } from '../ingest/lifecycle.ts';
import { registerDetect } from './detect.ts';
import { registerIngest } from './ingest.ts';
import { registerNormalize } from './normalize.ts';
import { registerReplay } from './replay.ts';
import { registerRules } from './rules.ts';
import { registerServe } from './serve.ts';

const program = new Command()
  .name('klaxon')
  .description('Kubernetes audit-log and Falco event stream analyzer: Sigma detections, in real time.')
  .showHelpAfterError();

registerServe(program);
registerIngest(program);
registerDetect(program);
registerReplay(program);
registerNormalize(program);
registerRules(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // A busy port is an operator's everyday mistake: one line, not a stack trace.
  const listen = describeListenError(err);
  if (listen === undefined) throw err;
  process.stderr.write(`klaxon ${program.args[0] ?? ''}: ${listen}\n`);
  process.exit(1);
}
