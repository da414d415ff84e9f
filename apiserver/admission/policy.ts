// ValidatingAdmissionPolicy as one of the server's admission plugins.
import { appendFileSync } from 'node:fs';
import type { PolicyEngine } from '../../webhooks/policy/index.ts';
import type { Admission } from '../../webhooks/types.ts';

/** ValidatingAdmissionPolicy as an admission plugin; Audit results go to DATA_DIR/audit.log as JSON lines. */
export function policyAdmission(engine: PolicyEngine, auditLog: string): Admission {
  return {
    async validate(attrs, warnings) {
      const result = await engine.validate(attrs, warnings);
      if (result.auditEvents.length === 0 && Object.keys(result.auditAnnotations).length === 0) return;
      const entry = {
        kind: 'Event',
        apiVersion: 'audit.k8s.io/v1',
        stageTimestamp: new Date().toISOString(),
        verb: attrs.operation.toLowerCase(),
        user: { username: attrs.user.name, groups: attrs.user.groups },
        objectRef: { apiGroup: attrs.group, apiVersion: attrs.version, resource: attrs.resource, subresource: attrs.subresource || undefined, namespace: attrs.namespace, name: attrs.name },
        annotations: result.auditAnnotations,
        validationFailures: result.auditEvents,
      };
      appendFileSync(auditLog, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
    },
  };
}
