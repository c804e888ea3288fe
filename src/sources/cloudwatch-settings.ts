import { z } from 'zod';
import { int } from '../config-values.ts';
import { ClusterName } from '../schema/cluster.ts';

/**
 * `type: cloudwatch`: the audit log of an Amazon EKS cluster in CloudWatch Logs (log group
 * `/aws/eks/<cluster>/cluster`, streams `kube-apiserver-audit-<id>`), read with FilterLogEvents. How the
 * windows, the overlap and the late scan work together: docs/operations.md, "Amazon EKS".
 */
export const CloudWatchSourceSettings = z
  .object({
    type: z.literal('cloudwatch'),
    /** The cluster its events are from (`orchestrator.cluster.name`): Klaxon's name, from this configuration. */
    cluster: ClusterName,
    /** Default `/aws/eks/<cluster>/cluster`, EKS's own name for the group. */
    logGroup: z
      .string()
      .regex(/^[.\-_/#A-Za-z0-9]{1,512}$/, 'a CloudWatch Logs log group name')
      .optional(),
    /** The AWS region of the log group; the SDK's default chain (AWS_REGION, the shared config) otherwise. */
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region such as eu-west-1')
      .optional(),
    /** Only streams whose name starts with this are read (EKS's other control-plane logs share the group). */
    logStreamPrefix: z.string().min(1).max(512).default('kube-apiserver-audit-'),
    /** How often the group is asked for new events. */
    pollSeconds: int(1, 300).default(5),
    /** Every poll reads this far behind the newest time already searched: events a few seconds late. */
    overlapSeconds: int(0, 600).default(15),
    /** How late an event may become readable (after its own timestamp) and still be read by the late scan. */
    latenessSeconds: int(0, 24 * 3600).default(300),
    /** How often the late scan reads the last `latenessSeconds` again for such events. */
    lateScanSeconds: int(5, 24 * 3600).default(120),
    /**
     * Most event ids remembered to drop repeats (12 bytes each in the checkpoint); beyond it the oldest are
     * forgotten and the late scan no longer reaches back as far (`klaxon_cloudwatch_errors_total{kind="overflow"}`).
     */
    maxTrackedEvents: int(1_000, 1_000_000).default(50_000),
    /** Where a group never read before is started: events from now on (end), or all it retains (beginning). */
    startAt: z.enum(['end', 'beginning']).default('end'),
  })
  .strict();
export type CloudWatchSourceSettings = z.infer<typeof CloudWatchSourceSettings>;

/** The log group an instance reads. */
export function logGroupOf(config: Pick<CloudWatchSourceSettings, 'cluster' | 'logGroup'>): string {
  return config.logGroup ?? `/aws/eks/${config.cluster}/cluster`;
}
