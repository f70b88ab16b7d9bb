import path from 'node:path';
import chokidar from 'chokidar';
import { MAX_DEPTH } from './scanner.js';

export interface WatchLogger {
  warn(obj: object, msg: string): void;
}

/**
 * chokidar on a local package directory, for developers who drop files in by hand: it reports the
 * paths that changed, debounced. Never the signal between processes (inotify does not see another
 * host's writes): that is the generation file's job. Links to folders are not followed and the
 * depth is bounded like the scan's, so a link to / cannot make it walk the whole machine.
 */
export interface RootWatcher {
  close(): Promise<void>;
  /** Resolves once the initial walk is done. */
  ready: Promise<void>;
  /** How many paths the watcher holds (folders and files). */
  watchedPaths(): number;
}

export function watchRoot(root: string, onChange: (dirty: Set<string>) => void, log: WatchLogger): RootWatcher {
  let dirty = new Set<string>();
  let debounce: NodeJS.Timeout | null = null;
  const watcher = chokidar.watch(root, {
    ignoreInitial: true,
    followSymlinks: false,
    depth: MAX_DEPTH,
    // Our own state folder and every dot-file are never packages.
    ignored: (p: string) =>
      path
        .relative(root, p)
        .split(path.sep)
        .some((part) => part.startsWith('.')),
    awaitWriteFinish: { stabilityThreshold: 300, pollInterval: 100 },
  });
  const onEvent = (file: string) => {
    dirty.add(path.relative(root, file).split(path.sep).join('/'));
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      const changed = dirty;
      dirty = new Set();
      onChange(changed);
    }, 100);
  };
  watcher.on('add', onEvent).on('change', onEvent).on('unlink', onEvent).on('unlinkDir', onEvent);
  watcher.on('error', (err) => log.warn({ err }, 'file watcher error; polling continues'));
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return {
    ready,
    watchedPaths: () => Object.values(watcher.getWatched()).reduce((n, names) => n + names.length, 0),
    async close() {
      if (debounce) clearTimeout(debounce);
      await watcher.close();
    },
  };
}
