// The hand-written etcd wire code: gRPC frames split anywhere by HTTP/2, and protobuf fields as etcd
// encodes them (the integration suite runs the same code against a real etcd).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameReader, frame } from '../../apiserver/storage/etcd-grpc.ts';
import { decodeTxnResponse, decodeWatchResponse, encodeRangeRequest, encodeTxnRequest } from '../../apiserver/storage/etcd-proto.ts';

test('frames are reassembled whatever the chunk boundaries', () => {
  const messages = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from('last')];
  const stream = Buffer.concat(messages.map(frame));
  for (const size of [1, 2, 5, 6, 4096, stream.length]) {
    const reader = new FrameReader();
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i += size) reader.push(stream.subarray(i, i + size), (m) => got.push(Buffer.from(m)));
    assert.deepEqual(got, messages, `chunks of ${size}`);
  }
});

test('a compressed frame is refused, not misread', () => {
  const f = frame(Buffer.from('x'));
  f[0] = 1;
  assert.throws(() => new FrameReader().push(f, () => assert.fail('delivered')), /compressed/);
});

/** protobuf by hand: tag, then a varint or a length and bytes. */
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
};
const field = (f: number, v: number | Buffer): Buffer =>
  typeof v === 'number' ? Buffer.from([...varint(f * 8), ...varint(v)]) : Buffer.concat([Buffer.from([...varint(f * 8 + 2), ...varint(v.length)]), v]);
const msg = (...fields: Buffer[]) => Buffer.concat(fields);

test('a watch response: header revision, events with prev_kv, revisions past 2^32, unknown fields skipped', () => {
  const big = 2 ** 40 + 3;
  const kv = (key: string, rev: number, version: number) => msg(field(1, Buffer.from(key)), field(2, 5), field(3, rev), field(4, version), field(5, Buffer.from(`v${rev}`)));
  const b = msg(
    // cluster_id as a 10-byte varint (uint64 above 2^63), which must be skipped, then the revision.
    field(1, msg(Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), field(3, big))),
    field(2, 7),
    field(11, msg(field(2, kv('/a', big, 2)), field(3, kv('/a', 9, 1)))),
    field(11, msg(field(1, 1), field(2, kv('/b', big + 1, 0)))),
    field(99, Buffer.from('future field')),
  );
  const res = decodeWatchResponse(b);
  assert.equal(res.header.revision, big);
  assert.equal(res.events.length, 2);
  assert.equal(res.events[0].type, 'Put');
  assert.equal(res.events[0].kv.modRevision, big);
  assert.equal(res.events[0].kv.createRevision, 5);
  assert.equal(res.events[0].prevKv?.value.toString(), 'v9');
  assert.equal(res.events[1].type, 'Delete');
  assert.equal(res.events[1].kv.key.toString(), '/b');
  assert.equal(res.events[1].prevKv, undefined);
});

test('a txn failure branch carries the current key-value', () => {
  const current = msg(field(1, Buffer.from('/k')), field(2, 3), field(3, 8), field(4, 2), field(5, Buffer.from('now')));
  const b = msg(field(1, field(3, 12)), field(3, field(1, msg(field(1, field(3, 12)), field(2, current)))));
  const res = decodeTxnResponse(b);
  assert.equal(res.succeeded, false);
  assert.equal(res.header.revision, 12);
  assert.equal(res.responses[0].range?.kvs[0].modRevision, 8);
  assert.equal(res.responses[0].range?.kvs[0].value.toString(), 'now');
});

test('a create compares create_revision == 0 explicitly, and ranges ask for key order', () => {
  const k = Buffer.from('/k');
  const txn = encodeTxnRequest({ compare: [{ key: k, target: 'Create', result: 'Equal', revision: 0 }], success: [{ put: { key: k, value: Buffer.from('v') } }], failure: [] });
  // Compare{target: CREATE(1), key, create_revision: 0}: the oneof member is present even though it is zero.
  const compare = msg(field(2, 1), field(3, k), Buffer.from([5 << 3, 0]));
  assert.deepEqual(txn.subarray(0, 2 + compare.length), msg(field(1, compare)));
  const range = encodeRangeRequest({ key: k, rangeEnd: Buffer.from('/l'), limit: 300, revision: 2 ** 33, sortByKey: true });
  assert.deepEqual(range, msg(field(1, k), field(2, Buffer.from('/l')), field(3, 300), field(4, 2 ** 33), field(5, 1)));
});
