// check.ts — a use of every export of dashboard/pglive.js and pglive-react.js, type-checked against
// their .d.ts by dashboard.test.mjs (tsc --noEmit --strict). Never run.
import pglive, {
  applyPatch, Client, compareValues, connect, escapePointerToken, jsonEqual, parseFilterText, parseJSON, parsePointer,
  PatchError, rowComparator, Subscription, supportedOps,
  type Change, type ConnectOptions, type Patch, type PgliveError, type Row, type StateEvent,
} from '../../../dashboard/pglive.js';
import { setReact, usePgliveTopic, type ReactLike } from '../../../dashboard/pglive-react.js';

const options: ConnectOptions = { url: 'http://localhost:8080', token: null, transports: undefined, bigNumbers: 'string', logErrors: false };
const live: Client = connect(options);
const also: Client = new Client({ transports: ['sse'] });
const via_default: Client = pglive.connect();
const off: () => void = live.on('state', (e: StateEvent) => console.log(e.state, e.transport, e.error?.code));
live.on('patch', (e) => console.log(e.sub.topic, e.pos, e.ts, e.ops.length));
live.on('snapshot', (e) => console.log(e.sub.size, e.pos));
live.on('message', (m) => console.log(m.topic, m.user, m.data));
live.on('error', (e) => console.log(e.code, e.message, e.sub?.topic));
off();

const orders: Subscription = live.subscribe('public.orders', {
  filter: ['status=eq.open'], limit: 20, order: 'amount.desc',
  onChange(rows, change: Change) {
    const first: Row | undefined = orders.list()[0];
    console.log(Object.keys(rows).length, change.type, change.pos, first?.id);
    if (change.type === 'patch') console.log(change.ops[0]?.op, change.ts);
  },
  onError(err: PgliveError) { console.error(err.code, err.message); },
  onMessage(data, ev) { console.log(data, ev.topic); },
});
orders.update({ filter: 'status=eq.paid&amount=gt.100', limit: null });
const pos: string | null = orders.position;
const key: string[] | null = orders.key;
console.log(pos, key, orders.ready, orders.error, orders.columns, live.position, live.state, live.transport, live.lastError);
orders.close();
live.close();
also.close();
via_default.close();

const patch: Patch = [{ op: 'add', path: '/a', value: 1 }, { op: 'move', from: '/a', path: '/b' }, { op: 'remove', path: '/b' }];
const doc: { a?: number } = applyPatch({ a: 0 }, patch);
try { applyPatch(doc, [{ op: 'test', path: '/x', value: 2 }]); } catch (e) { if (e instanceof PatchError) console.log(e.index, e.op); }
const parts: string[] = parsePointer('/a~1b/0');
const token: string = escapePointerToken('a/b');
const same: boolean = jsonEqual({ a: 1 }, { a: 1 });
const ops: readonly string[] = supportedOps;
const filters: string[] = parseFilterText('a=eq.1&b=gt.2');
const cmp = rowComparator('amount.desc,id');
if (cmp) console.log(cmp({ amount: 1 }, { amount: 2 }));
const c: number = compareValues('10', 9, true);
console.log(parts, token, same, ops, filters, c, parseJSON('{"n": 9007199254740993}', 'bigint'));

// @ts-expect-error: a topic is a string
live.subscribe(42);
// @ts-expect-error: no such transport
connect({ transports: ['carrier-pigeon'] });
// @ts-expect-error: no such event
live.on('row', () => {});

declare const React: ReactLike;
setReact(React);
const state = usePgliveTopic<{ id: number; customer: string }>(live, 'public.orders', { React, order: 'id.desc', limit: 5, enabled: true,
  onError: (e) => console.log(e.code) });
const first_customer: string | undefined = state.rows[0]?.customer;
console.log(first_customer, state.ready, state.error?.message, state.position, state.rowsByKey, state.subscription?.topic);
