import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { LocalThrottle } from '../auth/throttle.js';
import type { Config } from '../config.js';
import { isMessage, REPLACEMENT_ENV, type Message } from './messages.js';

/**
 * `--workers N`: one primary forks N servers that share the port. Across tasks the generation file
 * is the only signal; inside one task the workers also tell each other of a write, so the worker
 * that answers the `pip install` after a `twine upload` already serves the file. The primary also
 * holds the task's login throttle.
 *
 * The first workers listen at once and answer 503 "loading" (with progress) until their first scan
 * is in, so the container's health check passes from the first second; a worker forked later to
 * replace one that died loads first, so its siblings keep serving every connection meanwhile.
 */

/** A sibling rescans at most the changed folders; far longer means it is stuck, and the write is answered anyway. */
export const ANNOUNCE_TIMEOUT_MS = 5_000;

export function supervise(config: Config, log: Logger): void {
  let stopping = false;
  let started = false;
  // A CI burst is hundreds of new connections at once. Round-robin makes the primary accept each
  // one and pass it to a worker over IPC, a third process on the connection path; letting the
  // workers accept for themselves halved the burst's p95 in the bench (bench/README.md).
  // NODE_CLUSTER_SCHED_POLICY=rr still selects round-robin.
  if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
  const fork = () => cluster.fork(started ? { [REPLACEMENT_ENV]: '1' } : {});
  for (let i = 0; i < config.workers; i++) fork();
  started = true;

  const send = (w: Worker, m: Message) => {
    if (w.isConnected()) w.send(m);
  };
  const workers = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected());

  const throttle = new LocalThrottle();
  throttle.onBlocked = (ip, user, until) => {
    for (const w of workers()) send(w, { wheelhouse: 'throttle-blocked', ip, user, until });
  };

  const waits = new Map<string, { writer: Worker; writeId: number; pending: Set<number>; timer: NodeJS.Timeout }>();
  const settle = (key: string) => {
    const wait = waits.get(key);
    if (!wait || wait.pending.size > 0) return;
    clearTimeout(wait.timer);
    waits.delete(key);
    send(wait.writer, { wheelhouse: 'announced', id: wait.writeId });
  };

  cluster.on('message', (worker, msg: unknown) => {
    if (!isMessage(msg)) return;
    switch (msg.wheelhouse) {
      case 'wrote': {
        const key = `${worker.id}:${msg.id}`;
        const siblings = workers().filter((w) => w.id !== worker.id);
        const timer = setTimeout(() => {
          const wait = waits.get(key);
          if (!wait) return;
          log.warn({ writer: worker.process.pid, waitingFor: [...wait.pending] }, 'workers did not catch up with a write in time');
          wait.pending.clear();
          settle(key);
        }, ANNOUNCE_TIMEOUT_MS);
        waits.set(key, { writer: worker, writeId: msg.id, pending: new Set(siblings.map((w) => w.id)), timer });
        for (const w of siblings) send(w, { wheelhouse: 'catch-up', id: key });
        settle(key);
        break;
      }
      case 'caught-up':
        waits.get(msg.id)?.pending.delete(worker.id);
        settle(msg.id);
        break;
      case 'throttle-reserve':
        send(worker, { wheelhouse: 'throttle-reserved', id: msg.id, wait: throttle.reserveNow(msg.ip, msg.user) });
        break;
      case 'throttle-settle':
        throttle.settle(msg.ip, msg.user, msg.ok);
        break;
      case 'throttle-fail':
        throttle.fail(msg.ip, msg.user);
        break;
      default:
        break;
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
