import { createReadStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { normalizeName } from '../pypi/names.js';
import { ProjectMatcher } from '../pypi/project-patterns.js';

/**
 * The audit trail: one JSON line per write to the index (upload, removal, yank, token mint,
 * revocation), saying who did it.
 *
 * Appends from several NFS clients to one file interleave and can overwrite each other (O_APPEND
 * is not atomic across EFS clients), so each process writes its own file, which no other process
 * ever touches: `<root>/.wheelhouse/audit/<host>-<pid>-<start>.jsonl` (pid alone is not unique:
 * in containers it is often 1). The reader merges every file in time order. A process that dies
 * mid-write leaves at most a partial last line, which the reader skips and counts.
 */

export type AuditAction = 'upload' | 'remove' | 'yank' | 'unyank' | 'mint' | 'revoke';

/** The identity of a trusted publisher's run (the OIDC claims kept for the trail). */
export interface AuditOidc {
  publisher: string;
  issuer: string;
  subject: string;
  claims: Readonly<Record<string, string>>;
}

/** Who did it. */
export type AuditActor =
  | { type: 'user'; user: string }
  | { type: 'token'; token: string; description?: string; oidc?: AuditOidc }
  | { type: 'oidc'; oidc: AuditOidc }
  | { type: 'cli'; user: string; host: string }
  /** A server that asks no login for writes (`--authenticate .`). */
  | { type: 'anonymous' };

export interface AuditEvent {
  /** ISO 8601 in UTC, to the millisecond. */
  time: string;
  action: AuditAction;
  /** Normalized project name. */
  project?: string;
  version?: string;
  file?: string;
  sha256?: string;
  /** The token minted or revoked. */
  token?: string;
  /** The projects a minted token may publish. */
  projects?: readonly string[];
  /** A yank's or a revocation's reason. */
  reason?: string;
  actor: AuditActor;
  /** The client's address. */
  client?: string;
}

export function auditDir(root: string): string {
  return path.join(root, '.wheelhouse', 'audit');
}

export interface AuditLogOptions {
  host?: string;
  pid?: number;
  /** When this process started; part of the file name. */
  start?: Date;
  /** fsync after each event (default true): a write's record outlives a crash right after its answer. */
  sync?: boolean;
}

/** This process's own audit file. Events are appended in call order, one whole line each. */
export class AuditLog {
  readonly file: string;
  private readonly sync: boolean;
  private handle: fs.FileHandle | null = null;
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(root: string, opts: AuditLogOptions = {}) {
    const host = (opts.host ?? os.hostname()).replace(/[^A-Za-z0-9._-]/g, '_') || 'host';
    const start = (opts.start ?? new Date()).toISOString().replace(/[-:]/g, '').replace('.', '');
    this.file = path.join(auditDir(root), `${host}-${opts.pid ?? process.pid}-${start}.jsonl`);
    this.sync = opts.sync ?? true;
  }

  /**
   * Appends one event (stamped with the time now unless it has one). Resolves once the line is
   * written (and synced); rejects if it could not be, leaving later events unaffected.
   */
  append(event: Omit<AuditEvent, 'time'> & { time?: string }): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`audit log ${this.file} is closed`));
    const line = `${JSON.stringify({ time: event.time ?? new Date().toISOString(), ...event })}\n`;
    const write = this.tail.then(async () => {
      // Created on the first event, so a task that never writes leaves no empty file behind.
      if (!this.handle) {
        await fs.mkdir(path.dirname(this.file), { recursive: true });
        this.handle = await fs.open(this.file, 'a');
      }
      await this.handle.write(line);
      if (this.sync) await this.handle.datasync();
    });
    this.tail = write.catch(() => undefined);
    return write;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
    await this.handle?.close();
    this.handle = null;
  }
}

export interface AuditQuery {
  /** Only events at or after this time. */
  since?: Date;
  /** Only events about this project (any spelling), mints of tokens that may publish it included. */
  project?: string;
}

export interface AuditTrail {
  events: AuditEvent[];
  /** Files read. */
  files: number;
  /** Lines that were not events (a partial last line of a process that died mid-write). */
  skipped: number;
}

const ACTIONS: readonly string[] = ['upload', 'remove', 'yank', 'unyank', 'mint', 'revoke'];

function asEvent(value: unknown): AuditEvent | null {
  if (typeof value !== 'object' || value === null) return null;
  const e = value as Record<string, unknown>;
  if (typeof e.time !== 'string' || Number.isNaN(Date.parse(e.time))) return null;
  if (typeof e.action !== 'string' || !ACTIONS.includes(e.action)) return null;
  if (typeof e.actor !== 'object' || e.actor === null || typeof (e.actor as { type?: unknown }).type !== 'string') return null;
  return e as unknown as AuditEvent;
}

function concerns(event: AuditEvent, project: string): boolean {
  if (event.project !== undefined) return normalizeName(event.project) === project;
  if (!event.projects) return false;
  try {
    return new ProjectMatcher(event.projects).matches(project);
  } catch {
    return false;
  }
}

/** Every process's audit file merged in time order, filtered. */
export async function readAuditTrail(root: string, query: AuditQuery = {}): Promise<AuditTrail> {
  const dir = auditDir(root);
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith('.jsonl') && !n.startsWith('.')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { events: [], files: 0, skipped: 0 };
    throw err;
  }
  const since = query.since?.getTime();
  const project = query.project === undefined ? undefined : normalizeName(query.project);
  const found: { at: number; order: number; event: AuditEvent }[] = [];
  let skipped = 0;
  let order = 0;
  for (const name of names) {
    const lines = createInterface({ input: createReadStream(path.join(dir, name), { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      let event: AuditEvent | null;
      try {
        event = asEvent(JSON.parse(line));
      } catch {
        event = null;
      }
      if (!event) {
        skipped++;
        continue;
      }
      const at = Date.parse(event.time);
      if (since !== undefined && at < since) continue;
      if (project !== undefined && !concerns(event, project)) continue;
      // Ties keep file and line order: one process's events stay in the order it wrote them.
      found.push({ at, order: order++, event });
    }
  }
  found.sort((a, b) => a.at - b.at || a.order - b.order);
  return { events: found.map((f) => f.event), files: names.length, skipped };
}
