/** A line of a hand-written file (password file, ACL) that cannot be used, with where it is. */
export class LineError extends Error {
  readonly source: string;
  readonly line: number;
  constructor(message: string, source: string, line: number) {
    super(`${source} line ${line}: ${message}`);
    this.source = source;
    this.line = line;
  }
}
