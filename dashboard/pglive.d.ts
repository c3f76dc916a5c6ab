// pglive.d.ts — TypeScript declarations of pglive.js, the browser client (docs/PROTOCOL.md; README "For
// frontend developers"). No build step: copy this file next to your code, or map the module to it:
//   declare module 'http://localhost:8080/pglive.js' { export * from './pglive'; }
// Keep in step with pglive.js: tests/browser/dashboard.test.mjs type-checks a use of every export.

/** A row as pglive sends it: PostgreSQL's to_jsonb(row) (column → JSON value). */
export type Row = { [column: string]: JsonValue };
/** A subscription's state: row key → row. Keys are the key column's text, or a JSON array text for composite keys. */
export type Rows = { [key: string]: Row };
export type JsonValue = null | boolean | number | string | bigint | JsonValue[] | { [k: string]: JsonValue };

/** One RFC 6902 operation. */
export type PatchOperation =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };
export type Patch = PatchOperation[];

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';
export type TransportName = 'ws' | 'sse';

/** An error from the server ({code, message} of PROTOCOL §4) or the client. */
export interface PgliveError {
  /** e.g. unknown_topic, forbidden, bad_filter, unauthorized (server); connect_failed, no_transport, disconnected, timeout, refused, origin_refused, patch_failed, bad_frame (client) */
  code: string;
  message: string;
}

export interface ConnectOptions {
  /** http(s) base URL of the pglive server; default: the page's origin. */
  url?: string | URL | null;
  /** A JWT; null or absent for anonymous access. */
  token?: string | null;
  /** Tried in order; default ['ws', 'sse']. A comma-separated string is accepted too. */
  transports?: TransportName[] | string;
  backoff_initial_ms?: number;
  backoff_max_ms?: number;
  /** 0 disables pings. */
  ping_interval_ms?: number;
  ping_timeout_ms?: number;
  /** WebSocket and EventSource implementations (tests); default: the browser's. */
  WebSocket?: typeof WebSocket | null;
  EventSource?: typeof EventSource | null;
  /** Numbers a double cannot hold exactly: null (JavaScript numbers), 'string' (the exact literal), 'bigint' (integers as BigInt, decimals as strings); 'text': as 'string', and every decimal JavaScript would not write back as sent (1523.40) as its literal. */
  bigNumbers?: null | 'string' | 'bigint' | 'text';
  /** Write errors no onError / on('error') handles to the console (default true). */
  logErrors?: boolean;
  /**
   * On a page of another origin that the server's allowed_origins does not list: how many times
   * to retry (with backoff) before giving up with an 'origin_refused' error event (final: true) and
   * state 'closed'. Default 3. A network loss is retried for ever.
   */
  refusedRetries?: number;
  /** fetch implementation (tests); default: the browser's. Used to ask /healthz why a connect failed. */
  fetch?: typeof fetch | null;
}

export type Change =
  | { type: 'snapshot'; pos: string }
  // from: a catch-up patch (a resync merging what this client missed) covers every position after it
  | { type: 'patch'; pos: string; ts?: string; ops: Patch; from?: string };

export interface SubscribeOptions {
  /** PostgREST filters: ['status=eq.open', 'amount=gt.100'], or one string joined by & (or newlines). */
  filter?: string[] | string | null;
  /** A window of the first `limit` rows in `order`. */
  limit?: number | null;
  /** PostgREST order: 'amount.desc,id' (nullsfirst / nullslast too). */
  order?: string | null;
  /** Live aggregates instead of rows (PROTOCOL §5): the group columns; rows are then group key → group. */
  group?: string[] | string | null;
  /** Aggregate names: 'count', 'count:COL', 'sum:COL', 'avg:COL', 'min:COL', 'max:COL' (each group holds them as fields). */
  aggregate?: string[] | string | null;
  onChange?: ((rows: Rows, change: Change) => void) | null;
  onError?: ((error: PgliveError) => void) | null;
  onMessage?: ((data: unknown, message: MessageEvent_) => void) | null;
}

export interface UpdateOptions {
  filter?: string[] | string | null;
  limit?: number | null;
  order?: string | null;
  group?: string[] | string | null;
  aggregate?: string[] | string | null;
}

export declare class Subscription {
  readonly client: Client;
  readonly topic: string;
  filter: string[];
  limit: number | null;
  order: string;
  group: string[];
  aggregate: string[];
  onChange: SubscribeOptions['onChange'];
  onError: SubscribeOptions['onError'];
  onMessage: SubscribeOptions['onMessage'];
  /** row key → row */
  rows: Rows;
  /** The last position applied (a decimal string; a bigint does not fit a number). */
  position: string | null;
  /** Key columns and columns, from the server's `subscribed` (null until then; SSE sends none). */
  key: string[] | null;
  columns: string[] | null;
  /** A snapshot (or a resume) has been applied. */
  ready: boolean;
  /** The last refusal. */
  error: PgliveError | null;
  closed: boolean;
  /** The rows in the subscription's order (default: by key). */
  list(): Row[];
  readonly size: number;
  /** A new query: a new subscription on the server, a fresh snapshot. */
  update(options?: UpdateOptions): void;
  close(): void;
}

/** A published message (pglive.publish). */
export interface MessageEvent_ { topic?: string; user?: string; data: unknown }
export interface StateEvent { state: ConnectionState; transport: TransportName | null; error: PgliveError | null }
export interface PatchEvent { sub: Subscription; type: 'patch'; pos: string; ts?: string; ops: Patch; from?: string }
export interface SnapshotEvent { sub: Subscription; pos: string }
export interface ErrorEvent_ extends PgliveError {
  sub?: Subscription | null;
  /** The client gave up (a permanent refusal, e.g. origin_refused after refusedRetries): it is closed. */
  final?: boolean;
}

export interface ClientEvents {
  state: StateEvent;
  message: MessageEvent_;
  patch: PatchEvent;
  snapshot: SnapshotEvent;
  error: ErrorEvent_;
}

export declare class Client {
  constructor(options?: ConnectOptions);
  readonly options: Required<ConnectOptions>;
  state: ConnectionState;
  transport: TransportName | null;
  /** The highest position applied by any subscription (a decimal string). */
  position: string | null;
  lastError: PgliveError | null;
  /** The backoff before the next reconnect attempt, in ms. */
  next_retry_ms?: number;
  /** Returns a function that removes the listener. */
  on<K extends keyof ClientEvents>(type: K, fn: (event: ClientEvents[K]) => void): () => void;
  subscribe(topic: string, options?: SubscribeOptions): Subscription;
  close(): void;
}

export declare function connect(options?: ConnectOptions): Client;

export declare class PatchError extends Error {
  constructor(message: string, index?: number, op?: PatchOperation);
  /** The failing operation's index in the patch. */
  index: number | undefined;
  op: PatchOperation | undefined;
}
/** Applies an RFC 6902 patch to a copy; throws PatchError and leaves `doc` as it was when an operation fails. */
export declare function applyPatch<T = unknown>(doc: T, patch: Patch): T;
/** "/a~1b/0" → ["a/b", "0"] */
export declare function parsePointer(pointer: string): string[];
/** "a/b" → "a~1b" */
export declare function escapePointerToken(token: string): string;
/** Deep JSON equality (as the `test` operation compares). */
export declare function jsonEqual(a: unknown, b: unknown): boolean;
export declare const supportedOps: readonly ['add', 'remove', 'replace', 'move', 'copy', 'test'];

/** "status=eq.open&amount=gt.100" → ["status=eq.open", "amount=gt.100"] */
export declare function parseFilterText(text: string): string[];
/** "amount.desc,id" → a comparator of rows in PostgreSQL's order (nulls last ascending), or null for "". */
export declare function rowComparator(order: string): ((a: Row, b: Row) => number) | null;
/** Compares two JSON values as pglive orders them (numbers and numeric strings as numbers). */
export declare function compareValues(x: unknown, y: unknown, nulls_first?: boolean): number;
/** JSON.parse that keeps numbers a double cannot hold exactly (see ConnectOptions.bigNumbers). */
export declare function parseJSON(text: string, bigNumbers?: null | 'string' | 'bigint' | 'text'): any;

declare const _default: {
  connect: typeof connect;
  Client: typeof Client;
  Subscription: typeof Subscription;
  applyPatch: typeof applyPatch;
  parsePointer: typeof parsePointer;
  escapePointerToken: typeof escapePointerToken;
  PatchError: typeof PatchError;
};
export default _default;
