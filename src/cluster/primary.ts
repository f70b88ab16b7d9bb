import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { LocalThrottle } from '../auth/throttle.js';
import type { Config } from '../config.js';
import { isMessage, type Message } from './messages.js';

/**
 * `--workers N`: one primary forks N servers that share the port. Across tasks the generation file
 * is the only signal; inside one task the workers also tell each other of a write, so the worker
 * that answers the `pip install` after a `twine upload` already serves the file. The primary also
 * holds the task's login throttle.
 *
 * Start-up. Every worker builds its server and then waits for the primary's word. The first one
 * (forked alone; the others once it listens) listens at once and answers 503 "loading" (with progress) until its first scan is in, so the
 * container's health check passes from the first second; the others wait until it has loaded (and
 * written the volume's catalog), then load in seconds and only then listen. So a new volume is
 * hashed once, not once per worker; the kernel never hands a connection to a worker that could
 * only answer 503; and a task that answered 200 once never flaps back to "loading" while its other
 * workers start. Should the first worker die before it has loaded, a waiting one takes its place
 * at once. A worker that replaces one that died later loads before it listens too, unless no
 * worker listens at all.
 */

/** A sibling rescans at most the changed folders; far longer means it is stuck, and the write is answered anyway. */
export const ANNOUNCE_TIMEOUT_MS = 5_000;

export function supervise(config: Config, log: Logger): void {
  let stopping = false;
  /** The worker that listens first and loads while the others wait, until one has loaded. */
  let leader: Worker | null = null;
  let loaded = false;
  const waiting: Worker[] = [];
  const listening = new Set<number>();
  // The others are forked once the first listens: till then it has the CPU to itself.
  let othersForked = false;
  cluster.on('listening', (worker) => {
    listening.add(worker.id);
    if (othersForked) return;
    othersForked = true;
    for (let i = 1; i < config.workers; i++) cluster.fork();
  });
  // A CI burst is hundreds of new connections at once. Round-robin makes the primary accept each
  // one and pass it to a worker over IPC, a third process on the connection path; letting the
  // workers accept for themselves halved the burst's p95 in the bench (bench/README.md).
  // NODE_CLUSTER_SCHED_POLICY=rr still selects round-robin.
  if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.fork();

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

  const lead = (w: Worker) => {
    leader = w;
    send(w, { wheelhouse: 'start', listenFirst: true });
  };

  cluster.on('message', (worker, msg: unknown) => {
    if (!isMessage(msg)) return;
    switch (msg.wheelhouse) {
      case 'ready':
        if (loaded) send(worker, { wheelhouse: 'start', listenFirst: listening.size === 0 });
        else if (leader === null) lead(worker);
        else {
          waiting.push(worker);
          log.info({ worker: worker.process.pid }, 'worker ready; it loads once the first worker has');
        }
        break;
      case 'loaded':
        if (!loaded) {
          loaded = true;
          for (const w of waiting.splice(0)) send(w, { wheelhouse: 'start', listenFirst: false });
        }
        break;
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
    listening.delete(worker.id);
    const at = waiting.indexOf(worker);
    if (at >= 0) waiting.splice(at, 1);
    if (leader === worker) {
      leader = null;
      // Nobody would listen until a new worker has started: one that is ready takes over now.
      const next = loaded ? undefined : waiting.shift();
      if (next) lead(next);
    }
    // Nobody waits for a worker that is gone.
    for (const [key, wait] of waits) {
      wait.pending.delete(worker.id);
      if (wait.writer.id === worker.id) wait.pending.clear();
      settle(key);
    }
    if (stopping) return;
    log.error({ worker: worker.process.pid, code, signal }, 'worker died; starting another');
    setTimeout(() => cluster.fork(), 500);
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
