// Label and field selectors (random strings and near-valid syntax) on list and watch, and watch
// resourceVersions: random, huge, negative, non-numeric and compacted. A refused query is a 4xx Status
// (on a watch, possibly an ERROR event carrying one); nothing is a 5xx and nothing hangs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assertSane, stopFuzzServer, assertSaneWatch, params, startFuzzServer, type FuzzServer } from './harness.ts';
import { collectionPath, kindName, kindNamed, minimalObject, nastyString } from './arbitraries.ts';

let s: FuzzServer;
const ns = 'fuzz';

before(async () => {
  s = await startFuzzServer();
  // Enough history that old revisions exist, then a compaction so that some of them are gone.
  const hosts = kindNamed('BareMetalHost');
  for (let i = 0; i < 20; i++) {
    const obj = minimalObject(hosts, `h${i}`);
    (obj.metadata as Record<string, unknown>).labels = { app: 'fuzz', rack: `r${i % 3}` };
    const r = await s.request('POST', collectionPath(hosts, ns), { body: JSON.stringify(obj) });
    assert.equal(r.status, 201, r.text);
  }
  await s.storage.compact(s.storage.currentRevision() - 5);
});
after(() => stopFuzzServer(s));

const token = fc.oneof(
  fc.constantFrom('app', 'rack', 'tier', 'a.b/c', 'example.com/x', 'metadata.name', 'metadata.namespace', 'status.provisioning.state', 'spec.online', 'type', 'r1', 'fuzz', ''),
  fc.stringMatching(/^[a-z0-9A-Z._/-]{0,12}$/),
  nastyString,
);
const operator = fc.constantFrom('=', '==', '!=', ' in ', ' notin ', '', '!', '(', ')', ',', ' ', '=!', '===', '<', '>', 'in (', ')(');

/** Selectors that are almost right: real keys and operators, stitched together with some noise. */
const selector = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.tuple(fc.constantFrom('', '', '!'), token, operator, token), { maxLength: 4 }).map((terms) => terms.map(([neg, k, op, v]) => `${neg}${k}${op}${op.includes('in') ? `(${v})` : v}`).join(',')) },
  nastyString,
  fc.constantFrom('app in (a,b', 'app in a,b)', 'app notin ()', ',,,', '=', '!app=x', 'a'.repeat(70) + '=x', 'x=' + 'a'.repeat(70), 'metadata.name=h1,metadata.name=h2', 'app=fuzz'.repeat(2000)),
);

const q = (params: Record<string, string | undefined>) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.set(k, v);
  const t = u.toString();
  return t ? `?${t}` : '';
};

const anywhere = fc.constantFrom(ns, ns, '');

test('label and field selectors on list', async () => {
  await fc.assert(
    fc.asyncProperty(kindName, anywhere, fc.option(selector), fc.option(selector), fc.option(fc.constantFrom('0', '1', '-1', 'abc', '500', '')), async (kind, where, labelSelector, fieldSelector, limit) => {
      const def = kindNamed(kind);
      const path = collectionPath(def, where) + q({ labelSelector: labelSelector ?? undefined, fieldSelector: fieldSelector ?? undefined, limit: limit ?? undefined });
      const reply = await s.request('GET', path);
      assertSane(reply, `LIST ${path}`);
    }),
    params('listSelectors'),
  );
  s.assertNoCrash();
});

test('label and field selectors on watch', async () => {
  await fc.assert(
    fc.asyncProperty(kindName, anywhere, fc.option(selector), fc.option(selector), async (kind, where, labelSelector, fieldSelector) => {
      const def = kindNamed(kind);
      const path = collectionPath(def, where) + q({ watch: 'true', timeoutSeconds: '0', labelSelector: labelSelector ?? undefined, fieldSelector: fieldSelector ?? undefined });
      assertSaneWatch(await s.watch(path), `WATCH ${path}`);
    }),
    params('watchSelectors'),
  );
  s.assertNoCrash();
});

/** Revisions: current, compacted, future, huge, negative, fractional, not numbers at all. */
// Revisions ahead of the store are rare here: kube (and we) wait 3 s for them before answering 504.
const resourceVersion = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('current', 'compacted', 'oldest') },
  { weight: 6, arbitrary: fc.integer({ min: -10, max: 20 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('next', 'far') },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String) },
  { weight: 6, arbitrary: fc.constantFrom('', '0', '-0', '00', '1.5', '1e3', '0x10', ' 1', '1 ', '+1', 'NaN', 'Infinity', '9007199254740993', '18446744073709551616') },
  { weight: 4, arbitrary: nastyString },
);

test('watch resourceVersions: random, huge, negative, non-numeric and compacted', async () => {
  await fc.assert(
    fc.asyncProperty(
      kindName,
      resourceVersion,
      fc.constantFrom(undefined, 'true', 'false', 'x'),
      fc.constantFrom(undefined, 'NotOlderThan', 'Exact', 'Bogus'),
      fc.boolean(),
      async (kind, rvChoice, bookmarks, match, asList) => {
        const cur = s.storage.currentRevision();
        const compacted = s.storage.compactedRevision();
        const rv = { current: String(cur), compacted: String(compacted - 1), oldest: String(compacted), next: String(cur + 1), far: String(cur + 1_000_000) }[rvChoice] ?? rvChoice;
        const def = kindNamed(kind);
        if (asList) {
          const path = collectionPath(def, ns) + q({ resourceVersion: rv, resourceVersionMatch: match });
          assertSane(await s.request('GET', path), `LIST ${path}`);
          return;
        }
        const path = collectionPath(def, ns) + q({ watch: 'true', timeoutSeconds: '0', resourceVersion: rv, allowWatchBookmarks: bookmarks });
        assertSaneWatch(await s.watch(path), `WATCH ${path}`);
      },
    ),
    params('watchResourceVersions'),
  );
  s.assertNoCrash();
});

test('a watch left open with random options still ends when the client goes away', async () => {
  // Not timeoutSeconds=0 here: the stream stays open until the client hangs up, which must not leak
  // into an unhandled error or a crash.
  await fc.assert(
    fc.asyncProperty(kindName, fc.option(selector), fc.constantFrom(undefined, '1', 'abc', '-1', '99999999999'), async (kind, labelSelector, timeoutSeconds) => {
      const path = collectionPath(kindNamed(kind), ns) + q({ watch: '1', labelSelector: labelSelector ?? undefined, timeoutSeconds });
      assertSaneWatch(await s.watch(path, 5), `WATCH ${path}`);
    }),
    params('openWatches'),
  );
  s.assertNoCrash();
});
