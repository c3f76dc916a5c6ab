// pglive-react.d.ts — declarations of pglive-react.js (the React hook over pglive.js).
import type { Client, PgliveError, Row, Rows, Subscription } from './pglive.js';

/** The part of React the hook uses (the app's own React satisfies it). */
export interface ReactLike {
  useState<S>(initial: S | (() => S)): [S, (next: S | ((prev: S) => S)) => void];
  useEffect(effect: () => void | (() => void), deps?: readonly unknown[]): void;
  useRef<T>(initial: T): { current: T };
}

export interface PgliveTopicOptions {
  /** The app's React; else the one given to setReact, else globalThis.React. */
  React?: ReactLike;
  filter?: string[] | string | null;
  limit?: number | null;
  order?: string | null;
  /** Live aggregates instead of rows (PROTOCOL §5): group columns and aggregate names. */
  group?: string[] | string | null;
  aggregate?: string[] | string | null;
  /** false: no subscription (rows stay empty). */
  enabled?: boolean;
  /** Else a refusal is written to the console. */
  onError?: (error: PgliveError) => void;
}

export interface PgliveTopicState<R extends Row = Row> {
  /** In the subscription's order. */
  rows: readonly R[];
  rowsByKey: Readonly<Rows>;
  ready: boolean;
  error: PgliveError | null;
  position: string | null;
  subscription?: Subscription;
}

export declare function setReact(React: ReactLike): void;
export declare function usePgliveTopic<R extends Row = Row>(client: Client | null | undefined, topic: string | null | undefined,
  options?: PgliveTopicOptions): PgliveTopicState<R>;
export default usePgliveTopic;
