// The annotations BMO honours on a BareMetalHost (bmo.md §6), and the parsing of their JSON arguments.

export const pausedAnnotation = 'baremetalhost.metal3.io/paused';
export const detachedAnnotation = 'baremetalhost.metal3.io/detached';
export const statusAnnotation = 'baremetalhost.metal3.io/status';
export const inspectAnnotation = 'inspect.metal3.io';
export const hardwareDetailsAnnotation = 'inspect.metal3.io/hardwaredetails';
export const rebootAnnotation = 'reboot.metal3.io';

export interface DetachedArgs {
  deleteAction?: 'delay' | 'delete';
  force: boolean;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The detached annotation's arguments; undefined when absent. Unparsable values count as present without arguments, as in BMO. */
export function detachedArgs(annotations: Record<string, string> | undefined): DetachedArgs | undefined {
  const raw = annotations?.[detachedAnnotation];
  if (raw === undefined) return undefined;
  const args: DetachedArgs = { force: false };
  if (raw.trim() === '') return args;
  try {
    const v: unknown = JSON.parse(raw);
    if (isRecord(v)) {
      if (v.deleteAction === 'delay' || v.deleteAction === 'delete') args.deleteAction = v.deleteAction;
      args.force = v.force === true;
    }
  } catch {
    // BMO logs and carries on: the annotation still detaches.
  }
  return args;
}

export interface RebootRequest {
  /** Some reboot annotation (after filtering) asks for the host to be off. */
  requested: boolean;
  /** The suffix-less annotation is present (a single reboot, removed once the host is off). */
  hasBase: boolean;
  hard: boolean;
  force: boolean;
}

interface RebootArgs {
  mode: 'soft' | 'hard';
  force: boolean;
}

function rebootArgs(raw: string): RebootArgs {
  const args: RebootArgs = { mode: 'soft', force: false };
  if (raw.trim() === '') return args;
  try {
    const v: unknown = JSON.parse(raw);
    if (isRecord(v)) {
      if (v.mode === 'hard') args.mode = 'hard';
      args.force = v.force === true;
    }
  } catch {
    // An invalid value still means "reboot", softly.
  }
  return args;
}

/** Every `reboot.metal3.io` and `reboot.metal3.io/<suffix>` annotation; `onlyForced` keeps those with force:true. */
export function rebootRequest(annotations: Record<string, string> | undefined, onlyForced = false): RebootRequest {
  const req: RebootRequest = { requested: false, hasBase: false, hard: false, force: false };
  for (const [key, value] of Object.entries(annotations ?? {})) {
    if (key !== rebootAnnotation && !key.startsWith(`${rebootAnnotation}/`)) continue;
    const args = rebootArgs(value);
    if (onlyForced && !args.force) continue;
    req.requested = true;
    if (key === rebootAnnotation) req.hasBase = true;
    if (args.mode === 'hard') req.hard = true;
    if (args.force) req.force = true;
  }
  return req;
}

export function removeAnnotation(meta: { annotations?: Record<string, string> }, key: string): boolean {
  if (meta.annotations?.[key] === undefined) return false;
  delete meta.annotations[key];
  return true;
}
