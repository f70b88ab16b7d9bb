import { promises as fs, constants } from 'node:fs';

/**
 * Reads a whole file by open + read until EOF. On NFS/EFS, open() gives fresh bytes but the size
 * fstat() reports right after can still be another client's old one, and readFile() sizes its
 * read from it: a file another host rewrote could come back truncated.
 */
export async function readFresh(file: string, maxBytes = 16 * 1024 * 1024): Promise<Buffer> {
  const handle = await fs.open(file, constants.O_RDONLY);
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(64 * 1024);
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw new Error(`${file} is larger than ${maxBytes} bytes`);
      chunks.push(buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}
