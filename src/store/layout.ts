import path from 'node:path';
import { Errors } from '../errors.js';

/**
 * Where everything lives on the volume. Distributions in `<root>/` (and subfolders, served
 * read-only), this server's state in `<root>/.wheelhouse/`: the generation file, `incoming/`
 * (uploads in flight), `meta/` (sidecars), `yanked/` (PEP 592 state), `changes/` (what each
 * generation bump changed).
 */
/** A package directory served read-only beside the root, its files listed under `prefix`. */
export interface ReadOnlyRoot {
  /** `~2/` for the second directory given, `~3/` for the third...: the start of its files' paths. */
  prefix: string;
  dir: string;
}

export class VolumeLayout {
  readonly root: string;
  readonly stateDir: string;
  readonly metaDir: string;
  readonly incomingDir: string;
  readonly yankDir: string;
  /** Writers' notes of what each generation bump changed (store/change-notes.ts). */
  readonly changesDir: string;
  /**
   * pypiserver's extra roots. Their files' paths start with `~N/` (a segment no distribution name
   * has), so one index, one catalog and one sidecar folder hold every root's records, and a path
   * says which directory to read. Nothing here is ever written into them.
   */
  readonly readOnlyRoots: readonly ReadOnlyRoot[];

  constructor(root: string, readOnlyRoots: readonly string[] = []) {
    this.root = path.resolve(root);
    this.stateDir = path.join(this.root, '.wheelhouse');
    this.metaDir = path.join(this.stateDir, 'meta');
    this.incomingDir = path.join(this.stateDir, 'incoming');
    this.yankDir = path.join(this.stateDir, 'yanked');
    this.changesDir = path.join(this.stateDir, 'changes');
    this.readOnlyRoots = readOnlyRoots.map((dir, i) => ({ prefix: `~${i + 2}/`, dir: path.resolve(dir) }));
  }

  /** The read-only root a path is in, or undefined for the root itself. */
  readOnlyRootOf(relpath: string): ReadOnlyRoot | undefined {
    return relpath.startsWith('~') ? this.readOnlyRoots.find((r) => relpath.startsWith(r.prefix)) : undefined;
  }

  /** The directory a path is in, and where it is on disk (no checks: for paths the scanner listed). */
  locate(relpath: string): { dir: string; full: string } {
    const ro = this.readOnlyRootOf(relpath);
    return ro
      ? { dir: ro.dir, full: path.join(ro.dir, relpath.slice(ro.prefix.length)) }
      : { dir: this.root, full: path.join(this.root, relpath) };
  }

  /** Maps a relative path to an absolute one inside its root, refusing anything that escapes it or is hidden. */
  resolve(relpath: string): string {
    const { dir, full: joined } = this.locate(relpath);
    const full = path.resolve(joined);
    if (!full.startsWith(dir + path.sep) || relpath.split('/').some((p) => p.startsWith('.'))) {
      throw new Errors.FileNotFound(relpath);
    }
    return full;
  }
}
