import { Command } from 'commander';
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

await program.parseAsync(process.argv);
