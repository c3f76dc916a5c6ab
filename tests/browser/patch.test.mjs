// patch.test.mjs — pglive.js's JSON Patch applier against the RFC 6902 conformance suite (json-patch-test-suite).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import { applyPatch, PatchError, parsePointer, escapePointerToken, supportedOps } from '../../dashboard/pglive.js';

const require = createRequire(import.meta.url);
const suites = {
  'tests.json': require('json-patch-test-suite/tests.json'),
  'spec_tests.json': require('json-patch-test-suite/spec_tests.json'),
};

// The suite marks a few records disabled. We run them too, except the ones about a patch with a
// duplicated member ("two 'op' members"): JSON.parse keeps the last member, so no JavaScript
// client can see the duplicate; what reaches us is a well-formed operation.
const not_observable = (rec) => /two 'op' members/.test(rec.error ?? '');

const clone = (v) => JSON.parse(JSON.stringify(v));

for (const [file, records] of Object.entries(suites)) {
  describe(`RFC 6902 conformance: ${file}`, () => {
    let n = 0;
    for (const rec of records) {
      if (!('doc' in rec) || !('patch' in rec)) continue;  // comment-only records
      if (rec.disabled && not_observable(rec)) continue;
      n += 1;
      const name = `${n}: ${rec.comment ?? rec.error ?? JSON.stringify(rec.patch)}`;
      // Every operation in the suite is one pglive.js implements: nothing is left out for that.
      for (const op of rec.patch) if (!supportedOps.includes(op.op)) assert.ok(rec.error, `${name} uses ${op.op}`);
      test(name, () => {
        const doc = clone(rec.doc);
        if ('error' in rec) {
          assert.throws(() => applyPatch(doc, rec.patch), PatchError);
          // A failed patch leaves the document exactly as it was (RFC 6902 §5).
          assert.deepEqual(doc, rec.doc, 'the document was changed by a failing patch');
        } else {
          const out = applyPatch(doc, rec.patch);
          if ('expected' in rec) assert.deepEqual(out, rec.expected);
        }
      });
    }
    test(`${file} has records`, () => assert.ok(n > 10, `only ${n} records in ${file}`));
  });
}

describe('applyPatch beyond the suite', () => {
  test('an unsupported operation is refused with a clear error naming it and the supported ones', () => {
    assert.throws(() => applyPatch({ a: 1 }, [{ op: 'merge', path: '/a', value: 2 }]),
      (e) => e instanceof PatchError && /unsupported operation "merge"/.test(e.message) && /add, remove, replace/.test(e.message) && e.index === 0);
  });

  test('a failure half way rolls back every earlier operation, including removals and array edits', () => {
    const doc = { '17': { id: 17, s: 'open' }, '18': { id: 18 }, arr: [1, 2, 3] };
    const before = clone(doc);
    assert.throws(() => applyPatch(doc, [
      { op: 'replace', path: '/17/s', value: 'paid' },
      { op: 'remove', path: '/18' },
      { op: 'add', path: '/arr/1', value: 9 },
      { op: 'move', from: '/arr/0', path: '/moved' },
      { op: 'add', path: '/19', value: { id: 19 } },
      { op: 'remove', path: '/nope' },
    ]), /operation 5: path "\/nope" does not exist/);
    assert.deepEqual(doc, before);
  });

  test('row keys with "/" and "~" and composite keys use JSON Pointer escaping', () => {
    const key = '[7,"eu/w~1"]';
    const doc = applyPatch({}, [{ op: 'add', path: '/' + escapePointerToken(key), value: { v: 1 } }]);
    assert.deepEqual(Object.keys(doc), [key]);
    applyPatch(doc, [{ op: 'replace', path: `/${escapePointerToken(key)}/v`, value: 2 }]);
    assert.equal(doc[key].v, 2);
    assert.deepEqual(parsePointer('/a~1b/c~0d/~01'), ['a/b', 'c~d', '~1']);
  });

  test('a row keyed "__proto__" is an ordinary member and never a prototype', () => {
    const doc = applyPatch({}, [{ op: 'add', path: '/__proto__', value: { polluted: true } }]);
    assert.equal(Object.getPrototypeOf(doc), Object.prototype);
    assert.equal(({}).polluted, undefined);
    assert.deepEqual(Object.keys(doc), ['__proto__']);
    assert.equal(doc['__proto__'].polluted, true);
  });

  test('added values are copied, so a later patch never changes the patch object it came from', () => {
    const value = { id: 1, tags: ['a'] };
    const doc = applyPatch({}, [{ op: 'add', path: '/1', value }]);
    applyPatch(doc, [{ op: 'add', path: '/1/tags/-', value: 'b' }]);
    assert.deepEqual(value.tags, ['a']);
  });

  test('bad pointers and bad patch shapes name what is wrong', () => {
    assert.throws(() => applyPatch({}, [{ op: 'add', path: 'a', value: 1 }]), /must start with "\/"/);
    assert.throws(() => applyPatch({}, [{ op: 'add', path: '/a~2', value: 1 }]), /bad escape/);
    assert.throws(() => applyPatch({}, { op: 'add' }), /must be an array/);
    assert.throws(() => applyPatch({}, [{ op: 'add', value: 1 }]), /'path'/);
    assert.throws(() => applyPatch({ a: { b: 1 } }, [{ op: 'move', from: '/a', path: '/a/b/c' }]), /own child/);
  });
});
