// The Ironic REST client against Debian's real Ironic (noauth and http_basic, with and without [fake]
// delays), and against a scripted HTTP server for what a healthy Ironic will not do on demand (NodeLocked,
// 503, pagination, hangs, echoed secrets).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { IronicClient, NO_RESPONSE, parseIronicErrorMessage } from '../../reconcilers/ironic/client.ts';
import { IronicError, type IronicNode } from '../../reconcilers/ironic/types.ts';
import { alive, ironicSkipReason, startIronic, type RunningIronic } from '../ironic/harness.ts';

const skip = ironicSkipReason();

type Observed = { provision: string; target: string | null; power: string | null; targetPower: string | null };

/** Polls the node every 50 ms until done(node), returning each distinct state seen on the way. */
async function watchNode(client: IronicClient, uuid: string, done: (n: IronicNode) => boolean, timeoutMs = 30_000): Promise<Observed[]> {
  const seen: Observed[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await client.getNode(uuid);
    assert.ok(n, `node ${uuid} disappeared`);
    const o: Observed = {
      provision: n.provision_state ?? '',
      target: n.target_provision_state ?? null,
      power: n.power_state ?? null,
      targetPower: n.target_power_state ?? null,
    };
    const last = seen.at(-1);
    if (!last || JSON.stringify(last) !== JSON.stringify(o)) seen.push(o);
    if (done(n)) return seen;
    if (Date.now() > deadline) throw new Error(`node ${uuid} did not settle; seen ${JSON.stringify(seen)}; last_error ${n.last_error}`);
    await sleep(50);
  }
}

const settledIn = (state: string) => (n: IronicNode) => n.provision_state === state && !n.target_provision_state;
const poweredTo = (state: string) => (n: IronicNode) => n.power_state === state && !n.target_power_state;

describe('IronicClient against Debian Ironic (noauth, API and conductor split)', { skip }, () => {
  let ironic: RunningIronic;
  let client: IronicClient;

  before(async () => {
    ironic = await startIronic({ auth: 'noauth' });
    client = new IronicClient({ endpoint: ironic.endpoint });
  });
  after(async () => {
    client?.close();
    await ironic?.stop();
  });

  it('negotiates the lower of our and the server’s microversion', async () => {
    assert.equal(client.version, '');
    assert.equal(client.atLeast('1.1'), false);
    assert.equal(await client.negotiate(), '1.82');
    assert.equal(client.version, '1.82');
    assert.ok(client.atLeast('1.81'));
    assert.ok(!client.atLeast('1.89'));
    const older = new IronicClient({ endpoint: `${ironic.endpoint}/v1/`, maxVersion: '1.50' });
    try {
      assert.equal(await older.negotiate(), '1.50');
      // Fields added after 1.50 (e.g. 1.52's allocation_uuid) are not served under it.
      const nodes = await older.listNodes();
      assert.ok(Array.isArray(nodes));
    } finally {
      older.close();
    }
  });

  it('lists the drivers the conductor registered', async () => {
    const drivers = await client.listDrivers();
    for (const d of ['fake-hardware', 'ipmi', 'redfish']) assert.ok(drivers.includes(d), `${d} in ${drivers}`);
  });

  it('drives a fake-hardware node through its whole lifecycle', async () => {
    const created = await client.createNode({
      name: 'lifecycle-0',
      driver: 'fake-hardware',
      resource_class: 'baremetal',
      properties: { cpus: 2, memory_mb: 4096, local_gb: 20, cpu_arch: 'x86_64' },
    });
    const uuid = created.uuid;
    assert.match(uuid, /^[0-9a-f-]{36}$/);
    assert.equal(created.provision_state, 'enroll');
    // Fake nodes have no power state until told one.
    assert.equal(created.power_state, null);
    assert.equal((await client.getNode('lifecycle-0'))?.uuid, uuid, 'found by name');

    const port = await client.createPort(uuid, '52:54:00:12:34:56', true);
    assert.equal(port.node_uuid, uuid);
    const dup = await client.createPort(uuid, '52:54:00:12:34:56', true).then(
      () => assert.fail('a duplicate MAC must be refused'),
      (e: unknown) => e,
    );
    assert.ok(dup instanceof IronicError);
    assert.equal(dup.status, 409);
    assert.ok(dup.isConflict);
    assert.match(dup.message, /52:54:00:12:34:56 already exists/);
    assert.deepEqual((await client.listPorts({ address: '52:54:00:12:34:56' })).map((p) => [p.uuid, p.node_uuid, p.pxe_enabled]), [[port.uuid, uuid, true]]);
    assert.deepEqual((await client.listPorts({ node_uuid: uuid })).map((p) => p.address), ['52:54:00:12:34:56']);

    const validation = await client.validateNode(uuid);
    for (const iface of ['boot', 'deploy', 'power', 'management']) assert.equal(validation[iface]?.result, true, `${iface}: ${validation[iface]?.reason}`);

    await client.setProvisionState(uuid, 'manage');
    await watchNode(client, uuid, settledIn('manageable'));
    await client.setProvisionState(uuid, 'inspect');
    await watchNode(client, uuid, settledIn('manageable'));
    // Fake inspection stores no inventory.
    assert.equal(await client.getInventory(uuid), undefined);
    await client.setProvisionState(uuid, 'provide');
    await watchNode(client, uuid, settledIn('available'));

    const patched = await client.patchNode(uuid, [
      { op: 'add', path: '/instance_info/image_source', value: 'http://127.0.0.1:8088/images/fake.qcow2' },
      { op: 'add', path: '/instance_info/image_checksum', value: `md5:${'0'.repeat(32)}` },
      { op: 'add', path: '/instance_info/root_gb', value: 10 },
    ]);
    assert.equal(patched.instance_info?.image_source, 'http://127.0.0.1:8088/images/fake.qcow2');

    const userData = '#cloud-config\nhostname: lifecycle-0\n';
    await client.setProvisionState(uuid, 'active', {
      configdrive: { meta_data: { uuid, hostname: 'lifecycle-0' }, user_data: userData, network_data: { links: [], networks: [], services: [] } },
    });
    const deployed = (await watchNode(client, uuid, settledIn('active'))).at(-1);
    assert.equal(deployed?.provision, 'active');
    const active = await client.getNode(uuid);
    // Ironic keeps the config drive but masks it in GET: the user data never comes back out.
    assert.equal(active?.instance_info?.configdrive, '******');
    assert.ok(!JSON.stringify(active).includes('hostname: lifecycle-0'));
    assert.equal(active?.instance_info?.image_source, 'http://127.0.0.1:8088/images/fake.qcow2');

    assert.equal(active?.power_state, null, 'deploying a fake node does not set its power state');
    await client.setPowerState(uuid, 'power off');
    await watchNode(client, uuid, poweredTo('power off'));
    await client.setPowerState(uuid, 'power on');
    await watchNode(client, uuid, poweredTo('power on'));
    await client.setPowerState(uuid, 'rebooting');
    await watchNode(client, uuid, poweredTo('power on'));

    await client.setMaintenance(uuid, 'testing');
    assert.equal((await client.getNode(uuid))?.maintenance, true);
    assert.equal((await client.getNode(uuid))?.maintenance_reason, 'testing');
    await client.clearMaintenance(uuid);
    assert.equal((await client.getNode(uuid))?.maintenance, false);

    await client.setProvisionState(uuid, 'deleted');
    await watchNode(client, uuid, settledIn('available'));
    const cleaned = await client.getNode(uuid);
    assert.equal(cleaned?.instance_info?.configdrive, undefined, 'undeploy drops the config drive');

    await client.deleteNode(uuid);
    assert.equal(await client.getNode(uuid), undefined);
    // Deleting what is gone is success: the provisioner's delete is idempotent.
    await client.deleteNode(uuid);
    assert.deepEqual(await client.listPorts({ node_uuid: uuid }), []);
  });

  it('lists nodes with only the fields asked for (plus uuid)', async () => {
    const a = await client.createNode({ name: 'fields-a', driver: 'fake-hardware' });
    const b = await client.createNode({ name: 'fields-b', driver: 'fake-hardware' });
    const nodes = await client.listNodes(['name', 'provision_state', 'boot_interface']);
    const mine = nodes.filter((n) => n.uuid === a.uuid || n.uuid === b.uuid);
    assert.equal(mine.length, 2);
    for (const n of mine) {
      assert.deepEqual(Object.keys(n).filter((k) => k !== 'links').sort(), ['boot_interface', 'name', 'provision_state', 'uuid']);
      assert.equal(n.provision_state, 'enroll');
      assert.equal(n.boot_interface, 'fake');
    }
    await client.deleteNode(a.uuid);
    await client.deleteNode(b.uuid);
  });

  it('lists only the nodes updated since a time, newest first, across pages', async () => {
    const created = [];
    for (let i = 0; i < 3; i++) created.push(await client.createNode({ name: `since-${i}`, driver: 'fake-hardware' }));
    // A PATCH stamps updated_at; the nodes never updated have none and are never among the changes.
    const patched = await client.patchNode(created[1].uuid, [{ op: 'add', path: '/extra/x', value: '1' }]);
    assert.equal(typeof patched.updated_at, 'string');
    // The PATCH reply's stamp is cut to the second; the node as stored (and listed) has it to the microsecond.
    const at = Date.parse((await client.getNode(created[1].uuid))?.updated_at as string);
    assert.ok(at >= Date.parse(patched.updated_at as string) && at < Date.parse(patched.updated_at as string) + 1000);
    assert.equal(await client.newestNodeUpdate(), at);
    const since = await client.listNodes(['name', 'provision_state'], { updatedSince: at });
    assert.deepEqual(since.map((n) => n.name), ['since-1']);
    assert.equal(since[0].provision_state, 'enroll');
    assert.deepEqual(await client.listNodes(['name'], { updatedSince: at + 60_000 }), []);
    // More changes than the first two pages (10, then 40) hold: all come back, newest first.
    const many: IronicNode[] = [];
    for (let i = 0; i < 55; i += 11) {
      const batch = await Promise.all(Array.from({ length: 11 }, (_, j) => client.createNode({ name: `since-many-${i + j}`, driver: 'fake-hardware' })));
      await Promise.all(batch.map((n) => client.patchNode(n.uuid, [{ op: 'add', path: '/extra/x', value: '2' }])));
      many.push(...batch);
    }
    const changes = await client.listNodes(['name'], { updatedSince: at });
    assert.equal(changes.length, 56);
    const stamps = changes.map((n) => Date.parse(n.updated_at as string));
    assert.deepEqual(stamps, [...stamps].sort((a, b) => b - a));
    await Promise.all([...created, ...many].map((n) => client.deleteNode(n.uuid)));
  });

  it('answers 404 as undefined and other errors as IronicError with Ironic’s faultstring', async () => {
    assert.equal(await client.getNode('no-such-node'), undefined);
    assert.equal(await client.getInventory('00000000-0000-0000-0000-000000000000'), undefined);
    const node = await client.createNode({ name: 'errors-0', driver: 'fake-hardware' });
    const err = await client.setProvisionState(node.uuid, 'provide').then(
      () => assert.fail('provide from enroll must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof IronicError);
    assert.equal(err.status, 400);
    assert.match(err.message, /"provide" can not be performed on node .* while it is in state "enroll"/);
    assert.doesNotMatch(err.message, /faultstring|error_message|debuginfo/);
    const notFound = await client.patchNode('00000000-0000-0000-0000-000000000000', [{ op: 'add', path: '/extra/a', value: 'b' }]).then(
      () => assert.fail('patching a missing node must fail'),
      (e: unknown) => e,
    );
    assert.ok(notFound instanceof IronicError && notFound.isNotFound);
    await client.deleteNode(node.uuid);
  });

  it('keeps BMC passwords out of errors even when Ironic echoes the input', async () => {
    const password = 'Planted-BMC-Pa55word';
    // Ironic's schema check quotes the offending value back ("[…] is not of type 'object', 'null'").
    const err = await client.createNode({ name: 'secret-0', driver: 'fake-hardware', driver_info: [password] }).then(
      () => assert.fail('a list as driver_info must be refused'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof IronicError);
    assert.equal(err.status, 400);
    assert.ok(!err.message.includes(password), err.message);
    assert.match(err.message, /\['\*{6}'\] is not of type/);
  });

  it('counts every request it sends', async () => {
    const before = client.requestCount();
    await client.listDrivers();
    await client.getNode('no-such-node');
    assert.equal(client.requestCount() - before, 2);
  });

  it('gives up on a request that outlives its timeout', async () => {
    const hasty = new IronicClient({ endpoint: ironic.endpoint, timeoutMs: 1 });
    try {
      // Creating a node is a database write behind an RPC: never under a millisecond in Python.
      const err = await hasty.negotiate().then(
        () => hasty.createNode({ name: 'hasty', driver: 'fake-hardware' }),
      ).then(
        () => assert.fail('a 1 ms timeout must expire'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof IronicError);
      assert.equal(err.status, NO_RESPONSE);
      assert.match(err.message, /timed out after 1 ms/);
    } finally {
      hasty.close();
    }
  });
  it('sees Ironic go away and come back on the same database and port', async () => {
    const node = await client.createNode({ name: 'restart-0', driver: 'fake-hardware' });
    const pids = ironic.pids();
    await ironic.stopProcesses();
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} ended`);
    const down = await client.getNode(node.uuid).catch((e: unknown) => e);
    assert.ok(down instanceof IronicError && down.status === NO_RESPONSE, String(down));
    await ironic.startProcesses();
    assert.notDeepEqual(ironic.pids(), pids);
    assert.equal((await client.getNode(node.uuid))?.name, 'restart-0');
    await client.deleteNode(node.uuid);
  });
});

describe('IronicClient against Debian Ironic (http_basic, single process)', { skip }, () => {
  let ironic: RunningIronic;

  before(async () => {
    ironic = await startIronic({ auth: 'http_basic', split: false });
  });
  after(async () => {
    await ironic?.stop();
  });

  it('is refused with wrong credentials and none, and served with the right ones', async () => {
    assert.ok(ironic.basicAuth);
    const wrong = new IronicClient({ endpoint: ironic.endpoint, basicAuth: { username: ironic.basicAuth.username, password: 'not-the-password' } });
    const none = new IronicClient({ endpoint: ironic.endpoint });
    const right = new IronicClient({ endpoint: ironic.endpoint, basicAuth: ironic.basicAuth });
    try {
      // The version document is public even under http_basic.
      assert.equal(await wrong.negotiate(), '1.82');
      for (const [c, msg] of [[wrong, /Incorrect username or password/], [none, /Authorization required/]] as const) {
        const err = await c.listDrivers().then(
          () => assert.fail('must be refused'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof IronicError);
        assert.equal(err.status, 401);
        assert.match(err.message, msg);
        assert.ok(!err.message.includes('not-the-password'));
      }
      assert.ok((await right.listDrivers()).includes('fake-hardware'));
      const node = await right.createNode({ name: 'basic-0', driver: 'fake-hardware' });
      assert.equal((await right.getNode(node.uuid))?.name, 'basic-0');
      await right.deleteNode(node.uuid);
    } finally {
      for (const c of [wrong, none, right]) c.close();
    }
  });

  it('takes credentials from the endpoint URL, as IRONIC_ENDPOINT allows', async () => {
    assert.ok(ironic.basicAuth);
    const url = new URL(`${ironic.endpoint}/v1/`);
    url.username = ironic.basicAuth.username;
    url.password = ironic.basicAuth.password;
    const client = new IronicClient({ endpoint: url.toString() });
    try {
      assert.ok((await client.listDrivers()).includes('fake-hardware'));
    } finally {
      client.close();
    }
  });
});

describe('IronicClient against Debian Ironic with [fake] delays', { skip }, () => {
  let ironic: RunningIronic;
  let client: IronicClient;

  before(async () => {
    ironic = await startIronic({ auth: 'noauth', fakeDelays: { power: 1, boot: 1, deploy: 1, inspect: 1, management: 1 } });
    client = new IronicClient({ endpoint: ironic.endpoint });
  });
  after(async () => {
    client?.close();
    await ironic?.stop();
  });

  it('shows the in-progress states with their targets', async () => {
    const { uuid } = await client.createNode({ name: 'slow-0', driver: 'fake-hardware' });
    const states = (seen: Observed[]) => seen.map((o) => `${o.provision}>${o.target ?? ''}`);

    await client.setProvisionState(uuid, 'manage');
    assert.deepEqual(states(await watchNode(client, uuid, settledIn('manageable'))), ['verifying>manageable', 'manageable>']);
    await client.setProvisionState(uuid, 'inspect');
    assert.deepEqual(states(await watchNode(client, uuid, settledIn('manageable'))), ['inspecting>manageable', 'manageable>']);
    await client.setProvisionState(uuid, 'provide');
    assert.deepEqual(states(await watchNode(client, uuid, settledIn('available'))).at(-1), 'available>');

    await client.setProvisionState(uuid, 'active', { configdrive: { user_data: '#cloud-config\n' } });
    const deploy = states(await watchNode(client, uuid, settledIn('active')));
    assert.ok(deploy.includes('deploying>active'), deploy.join(' '));
    assert.equal(deploy.at(-1), 'active>');

    // A node in a transition cannot be updated; that conflict is not a lock, so it is not retried.
    await client.setProvisionState(uuid, 'deleted');
    const before = client.requestCount();
    const busy = await client.patchNode(uuid, [{ op: 'add', path: '/extra/a', value: 'b' }]).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (busy !== undefined) {
      assert.ok(busy instanceof IronicError && busy.isConflict, String(busy));
      assert.match(busy.message, /state transition is in progress/);
      assert.equal(client.requestCount() - before, 1);
    }
    const undeploy = states(await watchNode(client, uuid, settledIn('available')));
    assert.ok(undeploy.includes('deleting>available') || undeploy.includes('cleaning>available'), undeploy.join(' '));

    await client.setPowerState(uuid, 'power on');
    const power = await watchNode(client, uuid, poweredTo('power on'));
    assert.deepEqual(power[0], { provision: 'available', target: null, power: null, targetPower: 'power on' });
    await client.deleteNode(uuid);
  });
});

/** A scripted stand-in for Ironic: each test sets `handle`; every request is recorded. */
function scriptedIronic() {
  type Recorded = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };
  const state = {
    requests: [] as Recorded[],
    maxVersion: '1.82',
    minVersion: '1.1',
    handle: (_req: Recorded, res: http.ServerResponse): void => {
      res.writeHead(404).end();
    },
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      state.requests.push(r);
      if (r.url === '/' || r.url === '/prefix/') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ name: 'OpenStack Ironic API', default_version: { id: 'v1', version: state.maxVersion, min_version: state.minVersion } }));
        return;
      }
      state.handle(r, res);
    });
  });
  return { state, server };
}

function sendJSON(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

function ironicFault(res: http.ServerResponse, status: number, faultstring: string): void {
  sendJSON(res, status, { error_message: JSON.stringify({ faultstring, faultcode: 'Client', debuginfo: null }) });
}

describe('IronicClient against a scripted server', () => {
  const { state, server } = scriptedIronic();
  let endpoint = '';

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const fresh = (extra: Partial<ConstructorParameters<typeof IronicClient>[0]> = {}) => {
    state.requests = [];
    return new IronicClient({ endpoint, ...extra });
  };

  it('caps the microversion at ours and sends it on every /v1 call', async () => {
    state.maxVersion = '1.120';
    const c = fresh();
    state.handle = (_r, res) => sendJSON(res, 200, { drivers: [{ name: 'fake-hardware' }] });
    // The first call negotiates by itself; concurrent first calls share one GET /.
    await Promise.all([c.listDrivers(), c.listDrivers()]);
    assert.equal(c.version, '1.110');
    assert.equal(state.requests.filter((r) => r.url === '/').length, 1);
    for (const r of state.requests.filter((q) => q.url.startsWith('/v1'))) assert.equal(r.headers['x-openstack-ironic-api-version'], '1.110');
    assert.equal(c.requestCount(), 3);
    c.close();
    state.maxVersion = '1.82';
  });

  it('keeps a path prefix, drops a trailing /v1, and moves URL credentials into a header', async () => {
    const c = fresh({ endpoint: endpoint.replace('http://', 'http://user:p%40ss@') + '/prefix/v1/' });
    state.handle = (_r, res) => sendJSON(res, 200, { drivers: [] });
    assert.deepEqual(await c.listDrivers(), []);
    assert.deepEqual(state.requests.map((r) => r.url), ['/prefix/', '/prefix/v1/drivers']);
    assert.equal(state.requests[1].headers.authorization, `Basic ${Buffer.from('user:p@ss').toString('base64')}`);
    c.close();
  });

  it('retries NodeLocked and 503 for idempotent calls, then succeeds', async () => {
    const c = fresh();
    let n = 0;
    state.handle = (r, res) => {
      n++;
      if (n === 1) ironicFault(res, 409, 'Node 1be2 is locked by host localhost, please retry after the current operation is completed.');
      else if (n === 2) ironicFault(res, 503, 'Too many concurrent requests');
      else sendJSON(res, 200, { uuid: '1be2', extra: JSON.parse(r.body) });
    };
    const node = await c.patchNode('1be2', [{ op: 'add', path: '/extra/a', value: 'b' }]);
    assert.equal(node.uuid, '1be2');
    assert.equal(n, 3);
    c.close();
  });

  it('gives up after a few NodeLocked answers and surfaces the conflict', async () => {
    const c = fresh();
    state.handle = (_r, res) => ironicFault(res, 409, 'Node 1be2 is locked by host localhost.');
    const err = await c.setPowerState('1be2', 'power on').catch((e: unknown) => e);
    assert.ok(err instanceof IronicError && err.isConflict);
    assert.equal(state.requests.filter((r) => r.url.startsWith('/v1')).length, 4);
    c.close();
  });

  it('does not retry other conflicts, nor a 503 to a POST', async () => {
    const c = fresh();
    state.handle = (_r, res) => ironicFault(res, 409, 'A port with MAC address 52:54:00:00:00:01 already exists.');
    await assert.rejects(c.createPort('1be2', '52:54:00:00:00:01', true), (e: unknown) => e instanceof IronicError && e.status === 409);
    state.handle = (_r, res) => ironicFault(res, 503, 'No conductor is available');
    await assert.rejects(c.createNode({ driver: 'fake-hardware' }), (e: unknown) => e instanceof IronicError && e.isUnavailable);
    assert.equal(state.requests.filter((r) => r.url.startsWith('/v1')).length, 2);
    c.close();
  });

  it('follows next pages by their marker, with limit=1000 and the fields asked for', async () => {
    const c = fresh();
    state.handle = (r, res) => {
      const q = new URL(r.url, 'http://x').searchParams;
      assert.equal(q.get('limit'), '1000');
      assert.equal(q.get('fields'), 'uuid,provision_state');
      // Ironic builds `next` from its own idea of its URL, which need not be ours.
      if (!q.get('marker')) sendJSON(res, 200, { nodes: [{ uuid: 'a' }, { uuid: 'b' }], next: 'http://ironic.example:6385/v1/nodes?limit=1000&fields=uuid,provision_state&marker=b' });
      else if (q.get('marker') === 'b') sendJSON(res, 200, { nodes: [{ uuid: 'c' }] });
      else sendJSON(res, 500, {});
    };
    assert.deepEqual((await c.listNodes(['provision_state'])).map((n) => n.uuid), ['a', 'b', 'c']);
    assert.ok(state.requests.every((r) => !r.url.includes('ironic.example')));
    c.close();
  });

  it('times out a hanging request as IronicError status 0', async () => {
    const c = fresh({ timeoutMs: 200 });
    state.handle = () => {
      // Never answers.
    };
    const t0 = Date.now();
    const err = await c.getNode('slow').catch((e: unknown) => e);
    assert.ok(err instanceof IronicError);
    assert.equal(err.status, NO_RESPONSE);
    assert.match(err.message, /GET \/v1\/nodes\/slow: timed out after 200 ms/);
    assert.ok(Date.now() - t0 < 2000);
    c.close();
  });

  it('reports a refused connection as IronicError status 0', async () => {
    const c = new IronicClient({ endpoint: 'http://127.0.0.1:1' });
    const err = await c.negotiate().catch((e: unknown) => e);
    assert.ok(err instanceof IronicError);
    assert.equal(err.status, NO_RESPONSE);
    assert.match(err.message, /ECONNREFUSED/);
    c.close();
  });

  it('masks secrets from the request that Ironic quotes back', async () => {
    const c = fresh();
    state.handle = (r, res) => ironicFault(res, 400, `Invalid input: ${r.body}`);
    const err = await c
      .createNode({ driver: 'redfish', driver_info: { redfish_username: 'admin', redfish_password: 'Planted-Secret-1' } })
      .catch((e: unknown) => e);
    assert.ok(err instanceof IronicError);
    assert.ok(!err.message.includes('Planted-Secret-1'), err.message);
    assert.match(err.message, /redfish_password/);
    const err2 = await c.patchNode('1be2', [{ op: 'add', path: '/driver_info/ipmi_password', value: 'Planted-Secret-2' }]).catch((e: unknown) => e);
    assert.ok(err2 instanceof IronicError && !err2.message.includes('Planted-Secret-2'), String(err2));
    const err3 = await c.setProvisionState('1be2', 'active', { configdrive: { user_data: 'Planted-UserData-3' } }).catch((e: unknown) => e);
    assert.ok(err3 instanceof IronicError && !err3.message.includes('Planted-UserData-3'), String(err3));
    c.close();
  });

  it('refuses an Ironic whose oldest microversion is newer than ours', async () => {
    state.maxVersion = '2.5';
    state.minVersion = '2.0';
    const c = fresh({ maxVersion: '1.110' });
    try {
      await assert.rejects(c.negotiate(), /minimum API microversion 2.0 is newer than ours \(1.110\)/);
      assert.equal(c.version, '');
    } finally {
      c.close();
      state.maxVersion = '1.82';
      state.minVersion = '1.1';
    }
  });
});

describe('parseIronicErrorMessage', () => {
  it('reads every envelope Ironic and its middleware use', () => {
    assert.equal(parseIronicErrorMessage(400, { error_message: JSON.stringify({ faultstring: 'bad thing', faultcode: 'Client' }) }), 'bad thing');
    assert.equal(parseIronicErrorMessage(400, { error_message: 'plain words' }), 'plain words');
    assert.equal(parseIronicErrorMessage(400, { error_message: { faultstring: 'as object' } }), 'as object');
    assert.equal(parseIronicErrorMessage(401, { error: { code: 401, title: 'Unauthorized', message: 'Incorrect username or password' } }), 'Incorrect username or password');
    assert.equal(parseIronicErrorMessage(502, '<html>bad gateway</html>'), '<html>bad gateway</html>');
    assert.equal(parseIronicErrorMessage(503, undefined), 'Service Unavailable');
    assert.ok(parseIronicErrorMessage(500, { error_message: 'x'.repeat(5000) }).length < 1100);
  });
});
