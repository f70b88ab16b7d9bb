import os from 'node:os';
import { TokenKeyring } from '../auth/api-tokens.js';

/** A command line that cannot be run: the message says what to type instead (exit code 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Writes one line of output (stdout or stderr). */
export type Print = (s: string) => void;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** `30d`, `12h`, `90m`, `2w`, `1y`, `45s` in seconds, or null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(?<n>\d+)\s*(?<unit>[smhdwy])\s*$/i.exec(text)?.groups;
  if (m?.n === undefined || m.unit === undefined) return null;
  return Number(m.n) * (UNITS[m.unit.toLowerCase()] ?? 0);
}

/** A date or date-time (`2030-01-31`, `2030-01-31T12:00:00Z`); a bare date is midnight UTC. */
export function parseDate(text: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) return null;
  const t = Date.parse(text.trim());
  return Number.isNaN(t) ? null : new Date(t);
}

/** A token's lifetime in seconds from `--expires`: a duration, a date, or `never` (null). */
export function parseExpires(text: string, now: number): number | null {
  if (text.trim().toLowerCase() === 'never') return null;
  const duration = parseDuration(text);
  if (duration !== null) {
    if (duration <= 0) throw new UsageError('--expires must be a positive duration');
    return duration;
  }
  const date = parseDate(text);
  if (!date) throw new UsageError(`--expires "${text}": use a duration (30d, 12h, 2w), a date (2030-01-31) or never`);
  const seconds = Math.floor((date.getTime() - now) / 1000);
  if (seconds <= 0) throw new UsageError(`--expires ${text} is in the past`);
  return seconds;
}

/** `--since`: a duration back from now (`1d`) or a date. */
export function parseSince(text: string, now: number): Date {
  const duration = parseDuration(text);
  if (duration !== null) return new Date(now - duration * 1000);
  const date = parseDate(text);
  if (!date) throw new UsageError(`--since "${text}": use a duration back from now (1d, 12h) or a date (2030-01-31)`);
  return date;
}

export const TOKEN_KEY_SOURCE = '--token-key / WHEELHOUSE_TOKEN_KEY';

/** The keys from `--token-key`, else `WHEELHOUSE_TOKEN_KEY`; null when neither is set. */
export function keyringFrom(flag: string | undefined, env: NodeJS.ProcessEnv): TokenKeyring | null {
  const value = flag ?? env.WHEELHOUSE_TOKEN_KEY;
  if (value === undefined || value.trim() === '') return null;
  try {
    return TokenKeyring.parse(value, TOKEN_KEY_SOURCE);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The package directory from `--root`, else `WHEELHOUSE_ROOT`. */
export function rootFrom(flag: string | undefined, env: NodeJS.ProcessEnv, command: string): string {
  const root = flag ?? env.WHEELHOUSE_ROOT;
  if (root === undefined || root.trim() === '')
    throw new UsageError(`${command} needs the package directory: --root DIR (or WHEELHOUSE_ROOT)`);
  return root;
}

/** Who runs this command, for the audit trail. */
export function cliActor(): { type: 'cli'; user: string; host: string } {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // No passwd entry for this uid (containers): the uid says enough.
    user = `uid ${process.getuid?.() ?? '?'}`;
  }
  return { type: 'cli', user, host: os.hostname() };
}

/** ISO time without milliseconds, for people. */
export function when(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** `in 3 days`, `5 hours ago`: how far a time is from now, roughly. */
export function relative(seconds: number, now: number): string {
  const delta = seconds - now / 1000;
  const abs = Math.abs(delta);
  const [n, unit] =
    abs >= 2 * 86_400
      ? [Math.round(abs / 86_400), 'days']
      : abs >= 2 * 3600
        ? [Math.round(abs / 3600), 'hours']
        : abs >= 120
          ? [Math.round(abs / 60), 'minutes']
          : [Math.round(abs), 'seconds'];
  return delta >= 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}
