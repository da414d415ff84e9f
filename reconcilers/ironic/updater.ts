// Collects the JSON-patch operations that bring a node to what we want, leaving out every value that is
// already there, so a node in its desired state costs no PATCH at all.
import { isDeepStrictEqual } from 'node:util';
import type { IronicNode, JSONPatchOp } from './types.ts';

type Section = 'driver_info' | 'properties' | 'instance_info';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class NodeUpdater {
  readonly ops: JSONPatchOp[] = [];
  private readonly node: IronicNode | undefined;

  /** Without a node every value counts as a change (used to build a create body). */
  constructor(node?: IronicNode) {
    this.node = node;
  }

  private section(name: Section): Record<string, unknown> {
    const s = this.node?.[name];
    return isRecord(s) ? s : {};
  }

  /** A top-level field; undefined removes it (which resets an interface to Ironic's default). */
  setTopLevel(field: string, value: unknown): this {
    const current = this.node?.[field];
    if (value === undefined) {
      if (current !== undefined && current !== null) this.ops.push({ op: 'remove', path: `/${field}` });
    } else if (!isDeepStrictEqual(current, value)) {
      this.ops.push({ op: 'replace', path: `/${field}`, value });
    }
    return this;
  }

  /** One key of driver_info, properties or instance_info; undefined removes the key. */
  set(section: Section, key: string, value: unknown): this {
    const current = this.section(section)[key];
    const path = `/${section}/${key}`;
    if (value === undefined) {
      if (current !== undefined) this.ops.push({ op: 'remove', path });
    } else if (!isDeepStrictEqual(current, value)) {
      this.ops.push({ op: 'add', path, value });
    }
    return this;
  }

  /** Replace a whole section: needed for driver_info when credentials change, as passwords read back masked. */
  replaceSection(section: Section, value: Record<string, unknown>): this {
    this.ops.push({ op: 'add', path: `/${section}`, value });
    return this;
  }

  get empty(): boolean {
    return this.ops.length === 0;
  }
}
