import type { LiveIndex } from './live-index.js';
import type { IndexLogger, RefresherVolume } from './ports.js';

export interface RefresherOptions {
  refreshInterval: number;
  rescanInterval: number;
  /** Watch the root with chokidar ('auto': only when it is a local disk, where inotify sees every write). */
  watch: 'auto' | 'on' | 'off';
  /** How old a temp file of a dead upload must be before it is swept. */
  incomingMaxAge: number;
  log: IndexLogger;
}

/**
 * How old the volume's catalog may be before a task that sees it lag rewrites it: every task
 * rescans, and one fresh catalog per half interval is plenty (a starting task reconciles the rest
 * from listings).
 */
export function catalogMinAge(rescanInterval: number): number {
  return rescanInterval / 2;
}

/**
 * Drives the index: polls the generation file every refreshInterval, runs a full rescan every
 * rescanInterval (files copied in by hand, writers that died before their bump) and then brings
 * the volume's catalog up to date, and on a local disk lets the file watcher trigger a rescan for
 * files dropped in by hand. The watcher is a convenience for developers; the generation file is
 * the only signal between processes.
 */
export class Refresher {
  private readonly live: LiveIndex;
  private readonly volume: RefresherVolume;
  private readonly opts: RefresherOptions;
  private pollTimer: NodeJS.Timeout | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  private watcher: { close(): Promise<void> } | null = null;
  private stopped = false;

  constructor(live: LiveIndex, volume: RefresherVolume, opts: RefresherOptions) {
    this.live = live;
    this.volume = volume;
    this.opts = opts;
  }

  async start(): Promise<void> {
    void this.sweep();
    this.schedulePoll();
    this.rescanTimer = setInterval(() => void this.fullRescan(), this.opts.rescanInterval);
    this.rescanTimer.unref();
    const watch = this.opts.watch === 'on' || (this.opts.watch === 'auto' && (await this.volume.isLocalDisk()));
    if (watch && !this.stopped) {
      this.watcher = this.volume.watch((dirty) => {
        this.live
          .rescan({ full: false, dirty })
          .catch((err: unknown) => this.opts.log.error({ err }, 'rescan after a local change failed'));
      });
    }
  }

  /**
   * Polls at a fixed rate: the next read is due refreshInterval after this one started, not after
   * its rescan ended, so a slow rescan (a loaded host, a large volume) does not add to the lag of
   * the next write. A poll never overlaps the previous one.
   */
  private schedulePoll(delay = this.opts.refreshInterval): void {
    if (this.stopped) return;
    this.pollTimer = setTimeout(() => {
      const started = performance.now();
      this.live
        .poll()
        .catch((err: unknown) => this.opts.log.error({ err }, 'rescan after a generation change failed; retrying at the next poll'))
        .finally(() => this.schedulePoll(Math.max(0, this.opts.refreshInterval - (performance.now() - started))));
    }, delay);
    this.pollTimer.unref();
  }

  private async fullRescan(): Promise<void> {
    try {
      await this.live.rescan({ full: true });
      await this.live.saveCatalog(catalogMinAge(this.opts.rescanInterval));
    } catch (err) {
      this.opts.log.error({ err }, 'periodic full rescan failed');
    }
    await this.sweep();
  }

  /** Temp files of uploads whose process died (SIGKILL, a lost task) are never listed; this frees their space. */
  private async sweep(): Promise<void> {
    try {
      const removed = await this.volume.sweepIncoming(this.opts.incomingMaxAge);
      if (removed) this.opts.log.info({ removed }, 'removed temp files of dead uploads');
    } catch (err) {
      this.opts.log.warn({ err }, 'could not sweep incoming/');
    }
    try {
      await this.volume.pruneChanges();
    } catch (err) {
      // Old notes cost a longer listing of changes/ at each poll, nothing else.
      this.opts.log.warn({ err }, 'could not prune old change notes');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    await this.watcher?.close();
  }
}
