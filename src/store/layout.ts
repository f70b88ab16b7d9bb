import path from 'node:path';
import { Errors } from '../errors.js';

/**
 * Where everything lives on the volume. Distributions in `<root>/` (and subfolders, served
 * read-only), this server's state in `<root>/.wheelhouse/`: the generation file, `incoming/`
 * (uploads in flight), `meta/` (sidecars), `yanked/` (PEP 592 state).
 */
export class VolumeLayout {
  readonly root: string;
  readonly stateDir: string;
  readonly metaDir: string;
  readonly incomingDir: string;
  readonly yankDir: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.stateDir = path.join(this.root, '.wheelhouse');
    this.metaDir = path.join(this.stateDir, 'meta');
    this.incomingDir = path.join(this.stateDir, 'incoming');
    this.yankDir = path.join(this.stateDir, 'yanked');
  }

  /** Maps a relative path to an absolute one inside the root, refusing anything that escapes it or is hidden. */
  resolve(relpath: string): string {
    const full = path.resolve(this.root, relpath);
    if (!full.startsWith(this.root + path.sep) || relpath.split('/').some((p) => p.startsWith('.'))) {
      throw new Errors.FileNotFound(relpath);
    }
    return full;
  }
}
