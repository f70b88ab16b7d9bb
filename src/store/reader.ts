import { promises as fs, constants } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Errors } from '../errors.js';
import { readWheelMetadata } from './archive.js';
import type { DistFile } from './dist-file.js';
import { errnoOf, readToEnd } from './fs-util.js';
import type { VolumeLayout } from './layout.js';
import { Sidecars } from './sidecars.js';

/**
 * Reads distributions and what their sidecars keep. A file is opened without following a link
 * first: a name swapped for a link to /etc/passwd after the scan must not be served; a link the
 * scan accepted is opened only after checking again where it points.
 */
export class FileReader {
  private readonly layout: VolumeLayout;
  private readonly sidecars: Sidecars;
  private readonly followExternalLinks: boolean;
  /** Real paths of the package directories, for the check that a link stays inside its own. */
  private readonly realDirs = new Map<string, Promise<string>>();

  constructor(layout: VolumeLayout, sidecars: Sidecars, opts: { followExternalLinks: boolean }) {
    this.layout = layout;
    this.sidecars = sidecars;
    this.followExternalLinks = opts.followExternalLinks;
  }

  /** Opens a distribution for streaming, a byte range of it if asked. A file removed since the index saw it is a clean 404. */
  async openFile(file: DistFile, range?: { start: number; end: number }): Promise<Readable> {
    const handle = await this.open(file);
    return handle.createReadStream({ ...(range ?? {}), autoClose: true });
  }

  /** The whole file, read to its end (see readFresh). */
  async readWhole(file: DistFile): Promise<Buffer> {
    // Reads as large as the file (at most 1 MiB each): over EFS every read is a round trip.
    return readToEnd(await this.open(file), Infinity, file.relpath, file.size + 1);
  }

  /** The PEP 658 bytes of a wheel's METADATA, from its sidecar, else from the wheel itself. */
  async readMetadata(file: DistFile): Promise<Buffer> {
    return (await this.sidecars.readMetadata(file)) ?? readWheelMetadata(this.layout.resolve(file.relpath), file.size, file.project);
  }

  /** The long description, kept only in the sidecar (the index holds records without it). */
  async readDescription(file: DistFile): Promise<string | null> {
    return (await this.sidecars.read(Sidecars.stem(file)))?.info?.description ?? null;
  }

  private async open(file: DistFile): Promise<fs.FileHandle> {
    const full = this.layout.resolve(file.relpath);
    try {
      try {
        return await fs.open(full, constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch (err) {
        if (errnoOf(err) !== 'ELOOP') throw err;
        return await fs.open(await this.checkedLink(full, file), constants.O_RDONLY);
      }
    } catch (err) {
      if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ELOOP') throw new Errors.FileNotFound(file.filename);
      throw err;
    }
  }

  private async checkedLink(full: string, file: DistFile): Promise<string> {
    const target = await fs.realpath(full);
    if (this.followExternalLinks) return target;
    const { dir } = this.layout.locate(file.relpath);
    let realDir = this.realDirs.get(dir);
    if (!realDir) this.realDirs.set(dir, (realDir = fs.realpath(dir)));
    if (!target.startsWith((await realDir) + path.sep)) throw new Errors.FileNotFound(file.filename);
    return target;
  }
}
