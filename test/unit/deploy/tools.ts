import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../../..');

/**
 * The paths of the deploy tools, built once by scripts/tools (Helm from the Go module proxy, the Pod
 * Security checker, kubernetes-validate from PyPI). A tool that cannot be built fails the test loudly.
 */
export function tools(): { helm: string; psaCheck: string; kubernetesValidate: string } {
  const run = spawnSync('bash', [join(root, 'scripts/tools'), 'helm', 'psa-check', 'kubernetes-validate'], {
    encoding: 'utf8',
    timeout: 900_000,
  });
  if (run.status !== 0) {
    throw new Error(`scripts/tools could not build the deploy tools (exit ${run.status}):\n${run.stderr}`);
  }
  const [helm, psaCheck, kubernetesValidate] = run.stdout.trim().split('\n') as [string, string, string];
  return { helm, psaCheck, kubernetesValidate };
}
