import chokidar, { type FSWatcher } from 'chokidar';
import path from 'node:path';
import type { IndexLogger, PackageIndex } from './package-index.js';

export interface RefresherOptions {
  refreshInterval: number;
  rescanInterval: number;
  /** Watch the root with chokidar ('auto': only when it is a local disk, where inotify sees every write). */
  watch: 'auto' | 'on' | 'off';
  log: IndexLogger;
  /** How old a temp file of a dead upload must be before it is swept. */
  incomingMaxAge: number;
}

/**
 * Drives the index: polls the generation file every refreshInterval, runs a full rescan every
 * rescanInterval (files copied in by hand, writers that died before their bump), and on a local
 * disk lets chokidar trigger a rescan for files dropped in by hand. chokidar is a convenience for
 * developers; the generation file is the only signal between processes.
 */
export class Refresher {
  private readonly index: PackageIndex;
  private readonly opts: RefresherOptions;
  private pollTimer: NodeJS.Timeout | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  private dirty = new Set<string>();
  private debounce: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(index: PackageIndex, opts: RefresherOptions) {
    this.index = index;
    this.opts = opts;
  }

  async start(): Promise<void> {
    void this.sweep();
    this.schedulePoll();
    this.rescanTimer = setInterval(() => void this.fullRescan(), this.opts.rescanInterval);
    this.rescanTimer.unref();
    const watch = this.opts.watch === 'on' || (this.opts.watch === 'auto' && (await this.index.store.isLocalDisk()));
    if (watch && !this.stopped) this.startWatcher();
  }

  /**
   * Polls at a fixed rate: the next read is due refreshInterval after this one started, not after
   * its rescan ended, so a slow rescan (a loaded host, a large volume) does not add to the lag of
   * the next write. A poll never overlaps the previous one.
   */
  private schedulePoll(delay = this.opts.refreshInterval): void {
    if (this.stopped) return;
    this.pollTimer = setTimeout(async () => {
      const started = performance.now();
      try {
        await this.index.poll();
      } catch (err) {
        this.opts.log.error({ err: (err as Error).message }, 'rescan after a generation change failed; retrying at the next poll');
      }
      this.schedulePoll(Math.max(0, this.opts.refreshInterval - (performance.now() - started)));
    }, delay);
    this.pollTimer.unref();
  }

  private async fullRescan(): Promise<void> {
    try {
      await this.index.rescan({ full: true });
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'periodic full rescan failed');
    }
    await this.sweep();
  }

  /** Temp files of uploads whose process died (SIGKILL, a lost task) are never listed; this frees their space. */
  private async sweep(): Promise<void> {
    try {
      const removed = await this.index.store.sweepIncoming(this.opts.incomingMaxAge);
      if (removed) this.opts.log.info({ removed }, 'removed temp files of dead uploads');
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'could not sweep incoming/');
    }
  }

  private startWatcher(): void {
    const root = this.index.store.root;
    this.watcher = chokidar.watch(root, {
      ignoreInitial: true,
      // Our own state folder and every dot-file are never packages.
      ignored: (p: string) =>
        path
          .relative(root, p)
          .split(path.sep)
          .some((part) => part.startsWith('.')),
      awaitWriteFinish: { stabilityThreshold: 300, pollInterval: 100 },
    });
    const onEvent = (file: string) => {
      this.dirty.add(path.relative(root, file).split(path.sep).join('/'));
      if (this.debounce) clearTimeout(this.debounce);
      this.debounce = setTimeout(() => {
        const dirty = this.dirty;
        this.dirty = new Set();
        this.index
          .rescan({ full: false, dirty })
          .catch((err: Error) => this.opts.log.error({ err: err.message }, 'rescan after a local change failed'));
      }, 100);
    };
    this.watcher.on('add', onEvent).on('change', onEvent).on('unlink', onEvent).on('unlinkDir', onEvent);
    this.watcher.on('error', (err) => this.opts.log.warn({ err: (err as Error).message }, 'file watcher error; polling continues'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    if (this.debounce) clearTimeout(this.debounce);
    await this.watcher?.close();
  }
}
