// pglive-react.js — a React hook over pglive.js: a component that calls usePgliveTopic(client, topic,
// options) re-renders with the topic's live rows. No dependency and no build step: React is the
// app's own, given as options.React or once with setReact(React) (else globalThis.React).
//
//   import { connect } from '/pglive.js';
//   import { usePgliveTopic } from '/pglive-react.js';
//   const client = connect();
//   function Orders() {
//     const { rows, ready, error } = usePgliveTopic(client, 'public.orders', { React, order: 'id.desc', limit: 20 });
//     …
//   }
//
// The subscription opens when the component mounts and closes when it unmounts, or when the
// client, topic, filter, limit, order, group or aggregate change (then a new one opens: a fresh
// snapshot). With group/aggregate (PROTOCOL §5) the rows are the live groups.

let bound_react = null;

export function setReact(React) { bound_react = React; }

function react_of(options) {
  const R = options?.React ?? bound_react ?? globalThis.React;
  if (!R || typeof R.useState !== 'function') {
    throw new Error('usePgliveTopic: no React: pass options.React or call setReact(React) first');
  }
  return R;
}

const empty = Object.freeze({ rows: Object.freeze([]), rowsByKey: Object.freeze({}), ready: false, error: null, position: null });

// → { rows (in the subscription's order), rowsByKey (key → row), ready, error, position,
//     subscription }. options: React, filter, limit, order, group, aggregate, enabled (false: no subscription),
//     onError(err) (else a refusal is written to the console, as pglive.js does).
export function usePgliveTopic(client, topic, options = {}) {
  const React = react_of(options);
  const { filter = null, limit = null, order = null, group = null, aggregate = null, enabled = true } = options;
  const filter_key = JSON.stringify(filter ?? null);
  const group_key = JSON.stringify(group ?? null);
  const aggregate_key = JSON.stringify(aggregate ?? null);
  const on_error = React.useRef(options.onError);
  on_error.current = options.onError;
  const [state, setState] = React.useState(empty);

  React.useEffect(() => {
    if (!client || !topic || enabled === false) { setState(empty); return undefined; }
    let live = true;
    const sub = client.subscribe(topic, {
      filter: filter_key === 'null' ? null : JSON.parse(filter_key),
      limit,
      order,
      group: JSON.parse(group_key),
      aggregate: JSON.parse(aggregate_key),
      onChange: () => {
        if (!live) return;
        setState({ rows: sub.list(), rowsByKey: sub.rows, ready: sub.ready, error: null, position: sub.position, subscription: sub });
      },
      onError: (error) => {
        if (!live) return;
        setState((s) => ({ ...s, ready: false, error, subscription: sub }));
        if (on_error.current) on_error.current(error);
        else if (client.options?.logErrors !== false) console.error(`pglive: ${topic}: ${error.code}: ${error.message}`);
      },
    });
    setState({ ...empty, subscription: sub });
    return () => { live = false; sub.close(); };
  }, [client, topic, filter_key, limit, order, group_key, aggregate_key, enabled]);

  return state;
}

export default usePgliveTopic;
