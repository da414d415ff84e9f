import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/types.ts';
import { EventRecorder, SecretRedactor } from '../../reconcilers/runtime/events.ts';
import { APIError, type KubeClient } from '../../api/client/types.ts';

const bmh: KubeObject = {
  apiVersion: 'metal3.io/v1alpha1',
  kind: 'BareMetalHost',
  metadata: { namespace: 'ns', name: 'host-0', uid: 'u-1', resourceVersion: '7' },
};

/** Keeps Events by name; records every write so the test can see create versus patch. */
class FakeEvents {
  events = new Map<string, KubeObject>();
  writes: string[] = [];

  asClient(): KubeClient {
    const unused = () => Promise.reject(new Error('not used'));
    return {
      create: async (_t, obj) => {
        const name = obj.metadata.name ?? '';
        this.writes.push(`create ${name}`);
        this.events.set(name, structuredClone(obj));
        return obj;
      },
      patch: async (_t, _ns, name, type, patch) => {
        this.writes.push(`patch ${name}`);
        const ev = this.events.get(name);
        if (!ev) throw new APIError(404, 'NotFound', `events "${name}" not found`);
        assert.equal(type, 'merge');
        Object.assign(ev, patch);
        return ev;
      },
      get: unused,
      list: unused,
      watch: () => () => {},
      update: unused,
      delete: unused,
    };
  }
}

test('an Event names the object, the component and the timestamps kubectl describe shows', async () => {
  const fake = new FakeEvents();
  const rec = new EventRecorder({ client: fake.asClient(), instance: 'pod-1', now: () => new Date('2025-01-01T10:00:00.123Z') });
  const related: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { namespace: 'ns', name: 'bmc-secret', uid: 'u-2' } };
  await rec.eventf(bmh, 'Warning', 'RegistrationError', 'Failed to get power state', { related });
  assert.equal(fake.events.size, 1);
  const [ev] = fake.events.values();
  assert.equal(ev.metadata.namespace, 'ns');
  assert.match(ev.metadata.name ?? '', /^host-0\.[0-9a-f]+$/);
  assert.deepEqual(ev.involvedObject, { apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', namespace: 'ns', name: 'host-0', uid: 'u-1', resourceVersion: '7' });
  assert.equal(ev.type, 'Warning');
  assert.equal(ev.reason, 'RegistrationError');
  assert.equal(ev.count, 1);
  assert.equal(ev.firstTimestamp, '2025-01-01T10:00:00Z');
  assert.equal(ev.lastTimestamp, '2025-01-01T10:00:00Z');
  assert.deepEqual(ev.source, { component: 'metal3-baremetal-controller', host: 'pod-1' });
  assert.equal(ev.reportingComponent, 'metal3-baremetal-controller');
  assert.equal(ev.reportingInstance, 'pod-1');
  assert.equal((ev.related as { name: string }).name, 'bmc-secret');
});

test('repeats within ten minutes count on one Event; a different message or a later repeat makes a new one', async () => {
  const fake = new FakeEvents();
  let now = new Date('2025-01-01T10:00:00Z').getTime();
  const rec = new EventRecorder({ client: fake.asClient(), now: () => new Date(now) });
  await rec.eventf(bmh, 'Normal', 'PowerOn', 'Host powered on');
  now += 60_000;
  await rec.eventf(bmh, 'Normal', 'PowerOn', 'Host powered on');
  now += 60_000;
  await rec.eventf(bmh, 'Normal', 'PowerOn', 'Host powered on');
  assert.equal(fake.events.size, 1);
  const [first] = fake.events.values();
  assert.equal(first.count, 3);
  assert.equal(first.firstTimestamp, '2025-01-01T10:00:00Z');
  assert.equal(first.lastTimestamp, '2025-01-01T10:02:00Z');

  await rec.eventf(bmh, 'Normal', 'PowerOn', 'Host powered on again');
  assert.equal(fake.events.size, 2, 'another message is another Event');
  await rec.eventf({ ...bmh, metadata: { ...bmh.metadata, name: 'host-1', uid: 'u-9' } }, 'Normal', 'PowerOn', 'Host powered on');
  assert.equal(fake.events.size, 3, 'another object is another Event');

  now += 11 * 60_000;
  await rec.eventf(bmh, 'Normal', 'PowerOn', 'Host powered on');
  assert.equal(fake.events.size, 4, 'past the window a repeat starts afresh');
});

test('concurrent repeats are serialised: one create, then patches', async () => {
  const fake = new FakeEvents();
  const rec = new EventRecorder({ client: fake.asClient() });
  await Promise.all([1, 2, 3, 4].map(() => rec.eventf(bmh, 'Normal', 'Registered', 'Registered new host')));
  assert.equal(fake.events.size, 1);
  assert.equal([...fake.events.values()][0].count, 4);
  assert.deepEqual(fake.writes.map((w) => w.split(' ')[0]), ['create', 'patch', 'patch', 'patch']);
});

test('an aggregated Event deleted meanwhile is created again', async () => {
  const fake = new FakeEvents();
  const rec = new EventRecorder({ client: fake.asClient() });
  await rec.eventf(bmh, 'Normal', 'X', 'y');
  fake.events.clear();
  await rec.eventf(bmh, 'Normal', 'X', 'y');
  assert.equal(fake.events.size, 1);
  assert.equal([...fake.events.values()][0].count, 1);
});

test('registered secrets never reach an Event, in plain or base64 form', async () => {
  const fake = new FakeEvents();
  const rec = new EventRecorder({ client: fake.asClient() });
  const password = 'Pa55-unique-7f3e9';
  const userData = '#cloud-config\npassword: hunter2-unique';
  rec.registerSecret(password);
  rec.registerSecret(userData);
  rec.registerSecret('');
  const b64 = Buffer.from(password).toString('base64');
  await rec.eventf(bmh, 'Warning', 'RegistrationError', `ipmitool -P ${password} failed; data=${b64}; ud=${userData}`);
  const [ev] = fake.events.values();
  const text = JSON.stringify(ev);
  assert.ok(!text.includes(password) && !text.includes(b64) && !text.includes('hunter2-unique'), text);
  assert.equal(ev.message, 'ipmitool -P [redacted] failed; data=[redacted]; ud=[redacted]');
});

test('the redactor replaces a longer secret whole even when it contains a shorter one', () => {
  const r = new SecretRedactor();
  r.register('abc');
  r.register('xxabcxx');
  assert.equal(r.redact('1 xxabcxx 2 abc'), '1 [redacted] 2 [redacted]');
  assert.equal(r.redact('nothing here'), 'nothing here');
});

test('a failed write is reported, redacted, and never thrown', async () => {
  const errors: string[] = [];
  const client = new FakeEvents().asClient();
  client.create = () => Promise.reject(new APIError(500, 'InternalError', 'storage failed on s3cr3t-value'));
  const rec = new EventRecorder({ client, onError: (e) => errors.push(e.message) });
  rec.registerSecret('s3cr3t-value');
  await rec.eventf(bmh, 'Normal', 'X', 'y');
  assert.deepEqual(errors, ['storage failed on [redacted]']);
});
