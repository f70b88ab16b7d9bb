import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Principal } from '../auth/access.js';
import type { AuditActor, AuditEvent } from '../store/audit-log.js';

/** What a route says it did; who did it and from where are added here. */
export type AuditRecord = Omit<AuditEvent, 'time' | 'actor' | 'client'>;

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Appends a committed write to the audit trail, with the login and the client address. Never
     * rejects: the write is done whatever becomes of its record (a failure is logged and counted).
     */
    audit(record: AuditRecord): Promise<void>;
  }
}

/** Where the trail goes: this process's audit file on the volume. */
export interface AuditSink {
  append(event: Omit<AuditEvent, 'time'>): Promise<void>;
}

export interface AuditStats {
  writes: number;
  failures: number;
}

export interface AuditPluginOptions {
  /** Null: no trail is kept (nothing is appended, nothing counted). */
  sink: AuditSink | null;
  stats: AuditStats;
}

/** Who a login was, as the trail records it. */
function actorOf(principal: Principal | undefined): AuditActor {
  if (principal === undefined) return { type: 'anonymous' };
  if (principal.kind === 'user') return { type: 'user', user: principal.user };
  const { token } = principal;
  return {
    type: 'token',
    token: token.id,
    ...(token.description ? { description: token.description } : {}),
    ...(token.oidc ? { oidc: token.oidc } : {}),
  };
}

/** Appends one event, counting it; a failure is logged and counted, never thrown. */
export async function appendAudit(
  sink: AuditSink | null,
  stats: AuditStats,
  event: Omit<AuditEvent, 'time'>,
  log: { error(obj: object, msg: string): void },
): Promise<void> {
  if (!sink) return;
  try {
    await sink.append(event);
    stats.writes++;
  } catch (err) {
    stats.failures++;
    log.error({ err, event }, 'the audit trail could not be written; the write itself is done');
  }
}

/** `request.audit(...)`: the audit trail of the writes routes commit. */
const audit: FastifyPluginAsync<AuditPluginOptions> = async (fastify, { sink, stats }) => {
  fastify.decorateRequest('audit', function (this: FastifyRequest, record: AuditRecord): Promise<void> {
    return appendAudit(sink, stats, { ...record, actor: actorOf(this.principal), client: this.ip }, this.log);
  });
};

export const auditPlugin = fp(audit, { name: 'wheelhouse-audit', fastify: '5.x' });
