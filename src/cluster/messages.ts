/**
 * Messages between the cluster primary and its workers, over node:cluster's IPC channel. Every
 * message carries a `wheelhouse` tag so anything else on the channel is ignored.
 */
export type Message =
  // A worker wrote to the volume; the primary asks its siblings to catch up, then answers it.
  | { wheelhouse: 'wrote'; id: number }
  | { wheelhouse: 'catch-up'; id: string }
  | { wheelhouse: 'caught-up'; id: string }
  | { wheelhouse: 'announced'; id: number }
  // Start-up (see primary.ts): a worker has built its server and waits; the primary tells it when
  // to load, and whether to listen first; a worker has its index (and the volume its catalog).
  | { wheelhouse: 'ready' }
  | { wheelhouse: 'start'; listenFirst: boolean }
  | { wheelhouse: 'loaded' }
  // The task's login throttle lives in the primary, so a guesser gets no fresh budget per worker.
  | { wheelhouse: 'throttle-reserve'; id: number; ip: string; user: string }
  | { wheelhouse: 'throttle-reserved'; id: number; wait: number }
  | { wheelhouse: 'throttle-settle'; ip: string; user: string; ok: boolean }
  | { wheelhouse: 'throttle-fail'; ip: string; user: string }
  | { wheelhouse: 'throttle-blocked'; ip: string; user: string | null; until: number };

export function isMessage(m: unknown): m is Message {
  return typeof m === 'object' && m !== null && typeof (m as { wheelhouse?: unknown }).wheelhouse === 'string';
}
