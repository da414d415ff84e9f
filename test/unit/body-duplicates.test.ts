import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeWriteBody, duplicateJSONFields } from '../../apiserver/body.ts';

const cases: [string, string[]][] = [
  ['{"a":1,"b":{"c":2,"d":[{"e":1}]}}', []],
  ['{"a":1,"a":2}', ['a']],
  ['{"spec":{"online":true,"x":"a:b\\":","online":false}}', ['spec.online']],
  ['{"items":[{"k":1},{"k":1,"k":2}]}', ['items[1].k']],
  ['{"__proto__":{"a":1,"a":2}}', ['__proto__.a']],
];

test('duplicate keys are found by the path scan and by the key-count shortcut of decodeWriteBody', () => {
  for (const [text, want] of cases) {
    assert.deepEqual(duplicateJSONFields(text), want, text);
    const decoded = decodeWriteBody(Buffer.from(text), 'application/json', true);
    assert.deepEqual(decoded.body, JSON.parse(text), text);
    assert.deepEqual(decoded.duplicates, want, text);
    assert.deepEqual(decodeWriteBody(Buffer.from(text), 'application/json', false).duplicates, [], text);
  }
});
