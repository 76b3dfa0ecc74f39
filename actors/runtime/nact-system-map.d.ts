// nact's registry of running actors (nact/lib/system-map.js, untyped). actor-runtime.ts uses it to
// reach the actor object behind a reference; see releaseLastImmediate there.
declare module 'nact/lib/system-map' {
  /** The actor object of `reference` in the system named `systemName`, if it still runs. */
  export function find(systemName: string, reference: unknown): unknown;
}
