import { z } from 'zod';

/**
 * Azure Monitor resource logs as AKS Diagnostic settings deliver them: an Event
 * Hubs message `{"records": [...]}`, or one record per line in the storage
 * account's hourly `PT1H.json` blobs. A `kube-audit`/`kube-audit-admin` record
 * carries the API server's audit Event as a JSON string in `properties.log`.
 * References: learn.microsoft.com/azure/azure-monitor/essentials/resource-logs-schema,
 * learn.microsoft.com/azure/azure-monitor/essentials/resource-logs-blob-format,
 * learn.microsoft.com/azure/aks/monitor-aks-reference. Loose: Azure adds fields
 * (`ccpNamespace`, `Cloud`, `UnderlayName` …).
 */

export const AksDiagnosticRecord = z.looseObject({
  time: z.string().optional(),
  resourceId: z.string().optional(),
  category: z.string(),
  operationName: z.string().optional(),
  properties: z
    .looseObject({
      log: z.string().optional(),
      pod: z.string().optional(),
      stream: z.string().optional(),
    })
    .optional(),
});
export type AksDiagnosticRecord = z.infer<typeof AksDiagnosticRecord>;

export const AksDiagnosticDocument = z.looseObject({
  /** Items are checked one by one, so a broken record rejects only itself. */
  records: z.array(z.unknown()),
});

/** The Diagnostic settings categories that carry audit events. */
export const AKS_AUDIT_CATEGORIES = ['kube-audit', 'kube-audit-admin'] as const;
