// jsonpatch.js — RFC 6902 JSON Patch and RFC 6901 JSON Pointer: apply a patch, parse and escape pointers.
//
// A dependency-free ES module, used by pglive.js (which re-exports it) and by the dashboard's page.

export class PatchError extends Error {
  constructor(message, index, op) {
    super(index === undefined ? message : `patch operation ${index}: ${message}`);
    this.name = 'PatchError';
    this.index = index;
    this.op = op;
  }
}

const has_own = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
export const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// "/a~1b/c~0d" → ["a/b", "c~d"]; "" → [] (the whole document).
export function parsePointer(pointer) {
  if (typeof pointer !== 'string') throw new PatchError(`a JSON Pointer must be a string, got ${typeof pointer}`);
  if (pointer === '') return [];
  if (pointer[0] !== '/') throw new PatchError(`JSON Pointer "${pointer}" must start with "/"`);
  return pointer.slice(1).split('/').map((t) => {
    if (/~[^01]|~$/.test(t)) throw new PatchError(`JSON Pointer "${pointer}" has a bad escape ("~" must be followed by 0 or 1)`);
    return t.replace(/~1/g, '/').replace(/~0/g, '~');
  });
}

// One reference token as a pointer segment: "a/b" → "a~1b".
export function escapePointerToken(token) {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

// An array index token: digits without leading zeros (RFC 6901 §4); "-" only where allowed.
function array_index(arr, token, pointer, { allow_end = false, allow_length = false } = {}) {
  if (token === '-' && allow_end) return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new PatchError(`"${token}" in "${pointer}" is not an array index`);
  const i = Number(token);
  const max = allow_length ? arr.length : arr.length - 1;
  if (i > max) throw new PatchError(`index ${i} in "${pointer}" is out of bounds (array has ${arr.length} items)`);
  return i;
}

// Deep structural equality of JSON values (object member order does not matter).
export function jsonEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!has_own(b, k) || !jsonEqual(a[k], b[k])) return false;
  return true;
}

function clone(v) {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(clone);
  const out = {};
  for (const k of Object.keys(v)) set_member(out, k, clone(v[k]));
  return out;
}

// obj[k] = v, without ever touching a prototype: a row keyed "__proto__" is just a row.
function set_member(obj, k, v) {
  if (k === '__proto__') Object.defineProperty(obj, k, { value: v, writable: true, enumerable: true, configurable: true });
  else obj[k] = v;
}

// Walks to the parent of the last token; returns [parent, last token].
function resolve_parent(doc, tokens, pointer) {
  let cur = doc;
  for (let i = 0; i < tokens.length - 1; i++) {
    const t = tokens[i];
    if (Array.isArray(cur)) cur = cur[array_index(cur, t, pointer)];
    else if (isObject(cur)) {
      if (!has_own(cur, t)) throw new PatchError(`path "${pointer}" does not exist ("${t}" is missing)`);
      cur = cur[t];
    } else throw new PatchError(`path "${pointer}" does not exist ("${tokens[i - 1] ?? ''}" is not a container)`);
  }
  if (!Array.isArray(cur) && !isObject(cur)) throw new PatchError(`path "${pointer}": its parent is not an object or array`);
  return [cur, tokens[tokens.length - 1]];
}

function get_value(doc, pointer) {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return doc;
  const [parent, last] = resolve_parent(doc, tokens, pointer);
  if (Array.isArray(parent)) return parent[array_index(parent, last, pointer)];
  if (!has_own(parent, last)) throw new PatchError(`path "${pointer}" does not exist`);
  return parent[last];
}

// Each mutation pushes its inverse on `undo`, so a failing patch leaves the document as it was
// (RFC 6902 §5) without copying the whole state for every patch.
function do_add(doc, pointer, value, undo) {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) {
    const old = doc;
    undo.push(() => old);
    return value;
  }
  const [parent, last] = resolve_parent(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const i = array_index(parent, last, pointer, { allow_end: true, allow_length: true });
    parent.splice(i, 0, value);
    undo.push((d) => (parent.splice(i, 1), d));
  } else {
    const existed = has_own(parent, last);
    const old = parent[last];
    set_member(parent, last, value);
    undo.push((d) => (existed ? set_member(parent, last, old) : delete parent[last], d));
  }
  return doc;
}

function do_remove(doc, pointer, undo) {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new PatchError('cannot remove the whole document (path "")');
  const [parent, last] = resolve_parent(doc, tokens, pointer);
  let old;
  if (Array.isArray(parent)) {
    const i = array_index(parent, last, pointer);
    old = parent.splice(i, 1)[0];
    undo.push((d) => (parent.splice(i, 0, old), d));
  } else {
    if (!has_own(parent, last)) throw new PatchError(`path "${pointer}" does not exist`);
    old = parent[last];
    delete parent[last];
    undo.push((d) => (set_member(parent, last, old), d));
  }
  return [doc, old];
}

function do_replace(doc, pointer, value, undo) {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) {
    const old = doc;
    undo.push(() => old);
    return value;
  }
  const [parent, last] = resolve_parent(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const i = array_index(parent, last, pointer);
    const old = parent[i];
    parent[i] = value;
    undo.push((d) => ((parent[i] = old), d));
  } else {
    if (!has_own(parent, last)) throw new PatchError(`path "${pointer}" does not exist`);
    const old = parent[last];
    set_member(parent, last, value);
    undo.push((d) => (set_member(parent, last, old), d));
  }
  return doc;
}

export const supportedOps = Object.freeze(['add', 'remove', 'replace', 'move', 'copy', 'test']);

function require_member(op, i, name) {
  if (!has_own(op, name)) throw new PatchError(`"${op.op}" needs a '${name}' member`, i, op);
}

// Applies `patch` (an array of operations) to `doc` and returns the result. The document is
// changed in place where possible (use the returned value: an operation on "" replaces it).
// Throws PatchError, leaving `doc` exactly as it was, when any operation fails.
export function applyPatch(doc, patch) {
  if (!Array.isArray(patch)) throw new PatchError(`a JSON Patch must be an array of operations, got ${typeof patch}`);
  const undo = [];
  let cur = doc;
  try {
    for (let i = 0; i < patch.length; i++) {
      const op = patch[i];
      if (!isObject(op)) throw new PatchError('an operation must be an object', i, op);
      try {
        require_member(op, i, 'path');
        switch (op.op) {
          case 'add':
            require_member(op, i, 'value');
            cur = do_add(cur, op.path, clone(op.value), undo);
            break;
          case 'remove':
            cur = do_remove(cur, op.path, undo)[0];
            break;
          case 'replace':
            require_member(op, i, 'value');
            cur = do_replace(cur, op.path, clone(op.value), undo);
            break;
          case 'move': {
            require_member(op, i, 'from');
            if (op.path !== op.from && (op.path + '/').startsWith(op.from + '/'))
              throw new PatchError(`cannot move "${op.from}" into its own child "${op.path}"`);
            if (op.path === op.from) { get_value(cur, op.from); break; }
            const [d, value] = do_remove(cur, op.from, undo);
            cur = do_add(d, op.path, value, undo);
            break;
          }
          case 'copy':
            require_member(op, i, 'from');
            cur = do_add(cur, op.path, clone(get_value(cur, op.from)), undo);
            break;
          case 'test':
            require_member(op, i, 'value');
            if (!jsonEqual(get_value(cur, op.path), op.value))
              throw new PatchError(`test failed: the value at "${op.path}" is not ${JSON.stringify(op.value)}`);
            break;
          default:
            throw new PatchError(`unsupported operation ${JSON.stringify(op.op)} (supported: ${supportedOps.join(', ')})`);
        }
      } catch (e) {
        if (e instanceof PatchError && e.index === undefined) throw new PatchError(e.message, i, op);
        throw e;
      }
    }
  } catch (e) {
    for (let j = undo.length - 1; j >= 0; j--) cur = undo[j](cur);
    throw e;
  }
  return cur;
}
