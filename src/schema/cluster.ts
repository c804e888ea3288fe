import { z } from 'zod';

/**
 * A cluster's name, as the credential or a source's configuration gives it: DNS-label-like, what EKS, GKE and
 * AKS allow as cluster names, and safe as a metric label, an index name part and a file name.
 */
export const ClusterName = z
  .string()
  .regex(
    /^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/,
    'cluster names are 1-63 letters, digits, "-" or "_", starting and ending with a letter or digit',
  );
