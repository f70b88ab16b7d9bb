import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { PackageIndex } from './index/package-index.js';

/**
 * `--workers N`: one primary forks N servers that share the port. Across tasks the generation file
 * is the only signal; inside one task the workers also tell each other of a write, so the worker
 * that answers the `pip install` after a `twine upload` already serves the file.
 *
 * The writer announces its write to the primary, which asks every other worker to poll and answers
 * the writer once all have caught up (or a time limit passed: the poll timer then catches them up
 * within the refresh interval, as it does across tasks).
 */

type Message =
  | { wheelhouse: 'wrote'; id: number }
  | { wheelhouse: 'catch-up'; id: string }
  | { wheelhouse: 'caught-up'; id: string }
  | { wheelhouse: 'announced'; id: number };

/** A sibling rescans at most the changed folders; far longer means it is stuck, and the write is answered anyway. */
const ANNOUNCE_TIMEOUT_MS = 5_000;

function isMessage(m: unknown): m is Message {
  return typeof m === 'object' && m !== null && typeof (m as { wheelhouse?: unknown }).wheelhouse === 'string';
}

/** The primary: forks the workers, replaces any that die, relays write announcements among them. */
export function supervise(config: Config, log: Logger): void {
  let stopping = false;
  // A CI burst is hundreds of new connections at once. Round-robin makes the primary accept each
  // one and pass it to a worker over IPC, a third process on the connection path; letting the
  // workers accept for themselves halved the burst's p95 in the bench (bench/README.md).
  // NODE_CLUSTER_SCHED_POLICY=rr still selects round-robin.
  if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
  const fork = () => cluster.fork();
  for (let i = 0; i < config.workers; i++) fork();

  const waits = new Map<string, { writer: Worker; writeId: number; pending: Set<number>; timer: NodeJS.Timeout }>();
  const settle = (key: string) => {
    const wait = waits.get(key);
    if (!wait || wait.pending.size > 0) return;
    clearTimeout(wait.timer);
    waits.delete(key);
    if (wait.writer.isConnected()) wait.writer.send({ wheelhouse: 'announced', id: wait.writeId } satisfies Message);
  };

  cluster.on('message', (worker, msg: unknown) => {
    if (!isMessage(msg)) return;
    if (msg.wheelhouse === 'wrote') {
      const key = `${worker.id}:${msg.id}`;
      const siblings = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.id !== worker.id && w.isConnected());
      const timer = setTimeout(() => {
        const wait = waits.get(key);
        if (!wait) return;
        log.warn({ writer: worker.process.pid, waitingFor: [...wait.pending] }, 'workers did not catch up with a write in time');
        wait.pending.clear();
        settle(key);
      }, ANNOUNCE_TIMEOUT_MS);
      waits.set(key, { writer: worker, writeId: msg.id, pending: new Set(siblings.map((w) => w.id)), timer });
      for (const w of siblings) w.send({ wheelhouse: 'catch-up', id: key } satisfies Message);
      settle(key);
    } else if (msg.wheelhouse === 'caught-up') {
      waits.get(msg.id)?.pending.delete(worker.id);
      settle(msg.id);
    }
  });

  cluster.on('exit', (worker, code, signal) => {
    // Nobody waits for a worker that is gone.
    for (const [key, wait] of waits) {
      wait.pending.delete(worker.id);
      if (wait.writer.id === worker.id) wait.pending.clear();
      settle(key);
    }
    if (stopping) return;
    log.error({ worker: worker.process.pid, code, signal }, 'worker died; starting another');
    setTimeout(fork, 500);
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping workers');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
    const deadline = setTimeout(() => process.exit(1), config.shutdownTimeout + 2000);
    deadline.unref();
    const check = setInterval(() => {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        clearInterval(check);
        process.exit(0);
      }
    }, 50);
  };
  process.on('SIGTERM', stop).on('SIGINT', stop);
}

/**
 * A worker's side: answers its siblings' announcements by polling, and returns the function the
 * index awaits after each of its own writes.
 */
export function joinSiblings(getIndex: () => PackageIndex | null, log: Logger): () => Promise<void> {
  const waiting = new Map<number, () => void>();
  let next = 0;
  process.on('message', (msg: unknown) => {
    if (!isMessage(msg)) return;
    if (msg.wheelhouse === 'catch-up') {
      const index = getIndex();
      // A worker still loading is not listening yet; its first scan lists the write anyway.
      const caughtUp = index?.ready
        ? index.poll().then(
            () => undefined,
            (err: Error) => log.warn({ err: err.message }, 'catching up with a sibling write failed'),
          )
        : Promise.resolve();
      void caughtUp.then(() => process.send?.({ wheelhouse: 'caught-up', id: msg.id } satisfies Message));
    } else if (msg.wheelhouse === 'announced') {
      waiting.get(msg.id)?.();
    }
  });
  return () =>
    new Promise<void>((resolve) => {
      const id = ++next;
      const done = () => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve();
      };
      // The primary answers within its own limit; this one only covers a primary that is gone.
      const timer = setTimeout(done, ANNOUNCE_TIMEOUT_MS + 1_000);
      waiting.set(id, done);
      process.send?.({ wheelhouse: 'wrote', id } satisfies Message);
    });
}
