// meta.k8s.io/v1 Table and PartialObjectMetadata renderings, as kube-apiserver builds them for a CRD
// from its additionalPrinterColumns: a Name column first, then the printer columns.
import type { KubeObject, PrinterColumn, ResourceDefinition } from '../api/types.ts';
import { jsonPathValue } from '../api/schema.ts';
import type { Strategy } from './registry/strategy.ts';

export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface TableRow {
  cells: unknown[];
  object?: unknown;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function columnDefinitions(def: ResourceDefinition): TableColumnDefinition[] {
  return [
    {
      name: 'Name',
      type: 'string',
      format: 'name',
      description: 'Name must be unique within a namespace. More info: http://kubernetes.io/docs/user-guide/identifiers#names',
      priority: 0,
    },
    ...def.printerColumns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.description ?? '',
      priority: c.priority ?? 0,
    })),
  ];
}

/** Relative age as kubectl prints it (k8s.io/apimachinery/pkg/util/duration.HumanDuration). */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < -1) return '<invalid>';
  if (s < 0) return '0s';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(s / 3600);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${h % 24}h`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24)}d`;
  if (h < 24 * 365 * 8) {
    const dy = Math.floor(h / 24) % 365;
    return dy === 0 ? `${Math.floor(h / 24 / 365)}y` : `${Math.floor(h / 24 / 365)}y${dy}d`;
  }
  return `${Math.floor(h / 24 / 365)}y`;
}

function cell(obj: KubeObject, col: PrinterColumn, now: number, computed?: Record<string, unknown>): unknown {
  if (computed && Object.hasOwn(computed, col.name)) return computed[col.name];
  const v = jsonPathValue(obj, col.jsonPath);
  if (v === undefined || v === null) return null;
  if (col.type === 'date') {
    const t = Date.parse(String(v));
    return Number.isNaN(t) ? '<invalid>' : humanDuration(now - t);
  }
  if (col.type === 'string') return typeof v === 'string' ? v : JSON.stringify(v);
  return v;
}

export function partialObjectMetadata(obj: KubeObject): { kind: string; apiVersion: string; metadata: KubeObject['metadata'] } {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

export function tableRow(def: ResourceDefinition, obj: KubeObject, include: IncludeObject, strategy?: Strategy, now = Date.now()): TableRow {
  const computed = strategy?.tableCells?.(obj);
  const cells: unknown[] = [obj.metadata.name ?? ''];
  for (const col of def.printerColumns) cells.push(cell(obj, col, now, computed));
  const row: TableRow = { cells };
  if (include === 'Metadata') row.object = partialObjectMetadata(obj);
  else if (include === 'Object') row.object = obj;
  return row;
}

export function toTable(
  def: ResourceDefinition,
  objects: KubeObject[],
  meta: Table['metadata'],
  include: IncludeObject,
  strategy?: Strategy,
  withHeaders = true,
): Table {
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: meta,
    columnDefinitions: withHeaders ? columnDefinitions(def) : [],
    rows: objects.map((o) => tableRow(def, o, include, strategy, now)),
  };
}

export function parseIncludeObject(v: string | null): IncludeObject | undefined {
  if (v === null || v === '') return 'Metadata';
  if (v === 'None' || v === 'Metadata' || v === 'Object') return v;
  return undefined;
}
