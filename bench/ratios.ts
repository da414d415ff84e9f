// The issue's targets as ratios of ours over kube-apiserver's, and the one table `npm run bench` prints.
import type { CompareRun, Measured, TargetName } from './compare/compare.ts';

export interface RatioTarget {
  /** The JSON key (`npm run bench -- --json`), ours over kube-apiserver's. */
  key: string;
  figure: string;
  unit: string;
  value: (m: Measured) => number;
  /** The ratio must be at least (>=) or at most (<=) this. */
  better: '>=' | '<=';
  target: number;
}

const MB = 2 ** 20;

export function ratioTargets(run: CompareRun): RatioTarget[] {
  const p = run.plan;
  return [
    { key: 'create_throughput_ratio', figure: `creates/s, ${p.createClients} clients`, unit: '/s', value: (m) => m.results.createsPerSecond, better: '>=', target: 3 },
    { key: 'get_p99_ratio', figure: `GET p99 at ${p.rate}/s`, unit: 'ms', value: (m) => m.results.getMs.p99, better: '<=', target: 1 / 3 },
    { key: 'update_p99_ratio', figure: `update p99 at ${p.rate}/s`, unit: 'ms', value: (m) => m.results.updateMs.p99, better: '<=', target: 1 / 3 },
    { key: 'list_json_ratio', figure: `LIST ${p.hosts} as JSON`, unit: 'ms', value: (m) => m.results.listJSONMs, better: '<=', target: 1 / 5 },
    { key: 'list_table_ratio', figure: `LIST ${p.hosts} as Table`, unit: 'ms', value: (m) => m.results.listTableMs, better: '<=', target: 1 / 5 },
    {
      key: 'watch_p99_ratio',
      figure: `watch p99, ${p.watchers} watchers, ${p.watchRate} writes/s`,
      unit: 'ms',
      value: (m) => m.results.watchDeliveryMs.p99,
      better: '<=',
      target: 1 / 3,
    },
    { key: 'rss_ratio', figure: `RSS holding ${p.hosts} hosts`, unit: 'MB', value: (m) => m.rss / MB, better: '<=', target: 1 / 2 },
  ];
}

export const DETAIL_ROWS: { figure: string; value: (m: Measured) => number }[] = [
  // An undelivered event makes a p99 infinite; this says how many were.
  { figure: 'watch events delivered (%)', value: (m) => (100 * m.results.watchDelivered) / m.results.watchExpected },
  { figure: 'CPU ms per create', value: (m) => m.results.cpuMsPerOp.create },
  { figure: '  of which etcd', value: (m) => m.results.createCpuMs.store },
  { figure: '  + load generator', value: (m) => m.results.createCpuMs.client },
  { figure: 'CPU ms per GET', value: (m) => m.results.cpuMsPerOp.get },
  { figure: 'CPU ms per update', value: (m) => m.results.cpuMsPerOp.update },
  { figure: 'CPU ms per LIST JSON', value: (m) => m.results.cpuMsPerOp.listJSON },
  { figure: 'CPU ms per LIST Table', value: (m) => m.results.cpuMsPerOp.listTable },
  { figure: 'CPU ms per watched write', value: (m) => m.results.cpuMsPerOp.watchWrite },
];

/**
 * Ours over kube's. A figure kube-apiserver could not produce (an undelivered watch event makes its p99
 * infinite) gives 0 for "lower is better" only when ours is finite; NaN means a phase failed.
 */
export function ratio(ours: number, kube: number): number {
  if (ours === Infinity && kube === Infinity) return NaN;
  return ours / kube;
}

export const passes = (r: number, t: RatioTarget) => (Number.isNaN(r) ? false : t.better === '>=' ? r >= t.target : r <= t.target);

export const show = (n: number) => (Number.isFinite(n) ? (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toFixed(3)) : String(n));

const oursTargets: TargetName[] = ['sqlite', 'etcd', 'aggregated'];

export interface RatioRow {
  key: string;
  figure: string;
  unit: string;
  kube: number;
  ours: Partial<Record<TargetName, number>>;
  ratios: Partial<Record<TargetName, number>>;
  target: string;
  pass: Partial<Record<TargetName, boolean>>;
}

/** Rows for every target, ours over kube-apiserver's, each with its verdict. */
export function ratioRows(run: CompareRun): RatioRow[] {
  const kube = run.measured.kube;
  if (!kube) throw new Error('kube-apiserver was not measured');
  return ratioTargets(run).map((t) => {
    const row: RatioRow = { key: t.key, figure: t.figure, unit: t.unit, kube: t.value(kube), ours: {}, ratios: {}, target: `${t.better === '>=' ? '≥' : '≤'} ${show(t.target)}`, pass: {} };
    for (const name of oursTargets) {
      const m = run.measured[name];
      if (!m) continue;
      row.ours[name] = t.value(m);
      row.ratios[name] = ratio(t.value(m), row.kube);
      row.pass[name] = passes(row.ratios[name], t);
    }
    return row;
  });
}

const col = (s: string, w: number) => s.padStart(w);

/** The table: one line per figure, kube's value, then per backend of ours its value and ratio with PASS/MISS. */
export function printRatioTable(run: CompareRun, log: (line: string) => void): RatioRow[] {
  const rows = ratioRows(run);
  const present = oursTargets.filter((n) => run.measured[n]);
  log(`${'figure'.padEnd(44)}${col('kube CRD', 10)}${present.map((n) => col(n, 11) + col('ratio', 14)).join('')}${col('target', 9)}`);
  for (const r of rows) {
    const cells = present.map((n) => col(show(r.ours[n] ?? NaN), 11) + col(`${show(r.ratios[n] ?? NaN)} ${r.pass[n] ? 'PASS' : 'MISS'}`, 14)).join('');
    log(`${`${r.figure} (${r.unit})`.padEnd(44)}${col(show(r.kube), 10)}${cells}${col(r.target, 9)}`);
  }
  const kube = run.measured.kube!;
  for (const c of DETAIL_ROWS) {
    const cells = present.map((n) => col(show(c.value(run.measured[n]!)), 11) + col(show(c.value(run.measured[n]!) / c.value(kube)), 14)).join('');
    log(`${c.figure.padEnd(44)}${col(show(c.value(kube)), 10)}${cells}`);
  }
  log('(CPU sums every process serving the request: kube-apiserver + etcd for kube; ours + etcd for the etcd backend; ours + kube-apiserver + etcd for the aggregated path)');
  for (const [name, m] of Object.entries(run.measured)) if (m.results.errors.length) log(`(${name}) failed phases: ${m.results.errors.join('; ')}`);
  return rows;
}
