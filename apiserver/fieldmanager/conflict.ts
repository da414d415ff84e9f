// The 409 an apply gets when it would change fields another manager owns, worded as kube-apiserver's
// managedfields NewConflictError words it.

import { StatusError, type StatusCause } from '../status.ts';
import { pathString, type FieldPath } from './fieldset.ts';
import type { Manager } from './managed.ts';

export interface Conflict {
  /** managerId() of the owner: conflicts are grouped and ordered by it. */
  id: string;
  owner: Manager;
  path: FieldPath;
}

/** `"kubectl"`, `"ctl" with subresource "status"`, and for Update owners `… using metal3.io/v1alpha1`. */
export function printManager(m: Manager): string {
  let s = JSON.stringify(m.manager);
  if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`;
  if (m.operation === 'Update') s += ` using ${m.apiVersion}`;
  return s;
}

export function conflictError(conflicts: readonly Conflict[]): StatusError {
  const sorted = [...conflicts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const causes: StatusCause[] = sorted.map((c) => ({
    reason: 'FieldManagerConflict',
    message: `conflict with ${printManager(c.owner)}`,
    field: pathString(c.path),
  }));
  let message: string;
  if (sorted.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(sorted[0].owner)}: ${causes[0].field}`;
  } else {
    const lines: string[] = [];
    let current: string | undefined;
    for (const c of sorted) {
      if (c.id !== current) {
        current = c.id;
        lines.push(`conflicts with ${printManager(c.owner)}:`);
      }
      lines.push(`- ${pathString(c.path)}`);
    }
    message = `Apply failed with ${sorted.length} conflicts: ${lines.join('\n')}`;
  }
  return new StatusError(409, 'Conflict', message, { causes });
}
