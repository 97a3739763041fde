import { CompiledQuery, type Kysely } from 'kysely';
import { ConflictError, type MordomoError, NotFoundError } from '../errors.ts';
import type { DB } from '../db/schema.ts';
import { columnList } from './columns.ts';

/**
 * Group commit for appends. One append statement costs the server mostly per statement, not per row (parse and plan,
 * executor start, the JSON unpack, the statement-level counter trigger, the UPDATEs of `conversations` and `users`,
 * the commit's WAL flush: bench/README.md, "append path: per statement or per row"). So while one append is in
 * flight on a database handle, the turns that arrive wait, and the next statement carries all of them (at most
 * MAX_TURNS turns and about MAX_BYTES of JSON), whatever their conversations. When nothing is in flight a turn goes
 * out at once, as the single-turn statement of old: nothing waits on a timer, and an idle caller sees no change.
 *
 * What each caller sees is what its own statement gave: its rows or its error. One batch is one transaction, and a
 * conversation's turns in it are all or none: a turn for an unknown or ended conversation gets no rows (the join
 * below drops them) and fails alone, with the single-turn path's error, while the rest commit. When the statement
 * fails as a whole (a turn the server refuses, a deadlock, a lost connection before the commit), nothing of it was
 * written, and every turn is retried alone, in order, so that only the faulty one fails. When the connection is lost
 * during the commit, the transaction's id, read back with the rows, tells whether it committed
 * (pg_xact_status), and the rows themselves confirm a "committed" (after a crash the id may belong to another
 * transaction): no turn is written twice, nor reported written when it was not, nor failed when it was.
 */

/** Turns one statement carries at most. */
export const MAX_TURNS = 64;
/** About how much message JSON one statement carries at most; a bigger turn goes alone. */
export const MAX_BYTES = 1_000_000;
/**
 * Batches in flight at once per handle. One: tried with two (a second batch running while the first commits), the
 * second slot took each turn as it came, alone, and at 16 clients three statements in four carried one turn, for
 * fewer turns per second than one batch at a time (bench/README.md, append-and-history). take() keeps a
 * conversation in flight out of the next batch, so a larger value stays correct.
 */
const MAX_IN_FLIGHT = 1;

/** A turn as the statement takes it: its messages validated, the JSON of each already made. */
export interface QueuedTurn {
  conversationId: string;
  /** The messages, validated, in order. */
  rows: Record<string, unknown>[];
}

/** What the coalescer reports to whoever watches (the service's /metrics). */
export interface AppendBatchWatcher {
  /** A statement went out carrying `turns` turns (1: the single-turn statement). */
  batch(turns: number): void;
  /** A batched statement failed as a whole and its turns were retried alone. */
  fallback(): void;
}

type Message = Record<string, unknown> & { conversation_id: string; timestamp: Date };

interface Waiting {
  turn: QueuedTurn;
  bytes: number;
  resolve(rows: Message[]): void;
  reject(error: unknown): void;
}

const MESSAGE_COLUMNS = columnList('messages');

/**
 * The batched append: the turns' messages arrive as one jsonb array, each with the index `c` of its conversation in
 * the $2 array and its position `n` among that conversation's messages in this statement (call order). Each open
 * conversation's first new timestamp is computed once, after its latest message as in the single-turn statement,
 * and its messages follow 1 ms apart, so order and distinct increasing timestamps hold across the turns of one
 * batch. The transaction's id comes back with the rows, for the case where the commit's answer is lost.
 */
const APPEND_BATCH = `
    WITH open AS (
      SELECT c.id, GREATEST(now(), (SELECT max(timestamp) FROM messages WHERE conversation_id = c.id) + interval '1 millisecond') AS at
        FROM conversations c
       WHERE c.id = ANY($2::uuid[]) AND c.ended_at IS NULL)
    INSERT INTO messages (conversation_id, role, content, timestamp, latency_ms, intent, confidence,
                          rag_context, audio_duration_ms, transcription_model, metadata)
    SELECT o.id, m.role, m.content, o.at + (m.n - 1) * interval '1 millisecond', m.latency_ms, m.intent,
           m.confidence, m.rag_context, m.audio_duration_ms, m.transcription_model, COALESCE(m.metadata, '{}')
      FROM jsonb_to_recordset($1::jsonb)
           AS m(c integer, n integer, role text, content text, latency_ms integer, intent text, confidence float8,
                rag_context jsonb, audio_duration_ms integer, transcription_model text, metadata jsonb)
      JOIN open o ON o.id = ($2::uuid[])[m.c]
    RETURNING ${MESSAGE_COLUMNS}, pg_current_xact_id()::text AS batch_xid`;

/** The statement of a batch of turns (each turn's conversation id already valid), for pgbench to replay. */
export function batchStatement(turns: QueuedTurn[]): CompiledQuery {
  const conversations: string[] = [];
  const index = new Map<string, number>();
  const count = new Map<string, number>();
  const rows: Record<string, unknown>[] = [];
  for (const { conversationId, rows: messages } of turns) {
    let c = index.get(conversationId);
    if (c === undefined) {
      conversations.push(conversationId);
      c = conversations.length;
      index.set(conversationId, c);
    }
    for (const message of messages) {
      const n = (count.get(conversationId) ?? 0) + 1;
      count.set(conversationId, n);
      rows.push({ ...message, c, n });
    }
  }
  return CompiledQuery.raw(APPEND_BATCH, [JSON.stringify(rows), conversations]);
}

const CONVERSATION_STATES = 'SELECT id, ended_at FROM conversations WHERE id = ANY($1::uuid[])';
const XACT_STATUS = 'SELECT pg_xact_status($1::xid8) AS status';
const ROW_STORED = 'SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1::uuid) AS stored';

/** The single-turn error of a turn whose conversation took no rows: unknown, or ended. */
function refusal(conversationId: string, known: boolean): MordomoError {
  return known
    ? new ConflictError(`conversation ${conversationId} has ended; start a new one to add messages`)
    : new NotFoundError(`conversation ${conversationId} not found`);
}

/** Splits a batch's returned rows back into each turn's, in the order the turns were given. */
function rowsByTurn(turns: QueuedTurn[], returned: Message[]): (Message[] | undefined)[] {
  const byConversation = new Map<string, Message[]>();
  for (const row of returned) {
    delete row.batch_xid;
    const list = byConversation.get(row.conversation_id);
    if (list) list.push(row);
    else byConversation.set(row.conversation_id, [row]);
  }
  for (const list of byConversation.values()) list.sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
  const taken = new Map<string, number>();
  return turns.map(({ conversationId, rows }) => {
    const list = byConversation.get(conversationId);
    if (!list) return undefined;
    const from = taken.get(conversationId) ?? 0;
    taken.set(conversationId, from + rows.length);
    return list.slice(from, from + rows.length);
  });
}

/** How long to ask whether a commit whose answer was lost went through, before giving up and saying so. */
const XACT_STATUS_ATTEMPTS = 20;
const XACT_STATUS_PAUSE_MS = 100;

class AppendCoalescer {
  private readonly queue: Waiting[] = [];
  private inFlight = 0;
  /** Conversations with a turn in a batch in flight, and how many. */
  private readonly busy = new Map<string, number>();
  watcher: AppendBatchWatcher | undefined;
  alone: AppendAlone<Message> = () => Promise.reject(new Error('no single-turn append given'));

  constructor(private readonly db: Kysely<DB>) {}

  append(turn: QueuedTurn): Promise<Message[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ turn, bytes: turn.rows.reduce((sum, row) => sum + String(row.content ?? '').length, 0), resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
      const batch = this.take();
      if (batch.length === 0) return; // every waiting turn's conversation is in flight: it goes after
      this.inFlight++;
      for (const waiting of batch) this.busy.set(waiting.turn.conversationId, (this.busy.get(waiting.turn.conversationId) ?? 0) + 1);
      void this.run(batch).finally(() => {
        for (const waiting of batch) {
          const left = this.busy.get(waiting.turn.conversationId)! - 1;
          if (left === 0) this.busy.delete(waiting.turn.conversationId);
          else this.busy.set(waiting.turn.conversationId, left);
        }
        // After a batch of several (or with turns waiting), the next leaves one turn of the event loop later (no
        // timer: the check phase right after the answers' callbacks): the callers just answered add their next
        // turns and ride along, instead of the first of them going out alone while the others wait for it
        // (bench/README.md, append path). After a turn alone with none waiting, the handle is idle at once.
        const next = () => {
          this.inFlight--;
          this.pump();
        };
        if (batch.length > 1 || this.queue.length > 0) setImmediate(next);
        else next();
      });
    }
  }

  /**
   * The turns waiting, oldest first, up to MAX_TURNS and about MAX_BYTES (the first one always), but none of a
   * conversation already in flight: a conversation's turns go in call order, each batch after the one before has
   * committed, so that its timestamps keep increasing.
   */
  private take(): Waiting[] {
    const taken: Waiting[] = [];
    const kept: Waiting[] = [];
    const held = new Set<string>();
    let bytes = 0;
    for (const waiting of this.queue) {
      const conversation = waiting.turn.conversationId;
      const fits = taken.length === 0 || (taken.length < MAX_TURNS && bytes + waiting.bytes <= MAX_BYTES);
      if (fits && !held.has(conversation) && !this.busy.has(conversation)) {
        taken.push(waiting);
        bytes += waiting.bytes;
      } else {
        held.add(conversation); // its later turns wait too, to keep their order
        kept.push(waiting);
      }
    }
    this.queue.length = 0;
    this.queue.push(...kept);
    return taken;
  }

  private async run(batch: Waiting[]): Promise<void> {
    this.watcher?.batch(batch.length);
    if (batch.length === 1) {
      const [only] = batch;
      await this.alone(this.db, only!.turn).then(only!.resolve, only!.reject);
      return;
    }
    let outcome: { rows: Message[] } | 'retry' | { failed: unknown };
    try {
      outcome = { rows: await this.together(batch.map((waiting) => waiting.turn)) };
    } catch (error) {
      outcome = error instanceof UnresolvedCommit ? { failed: error.cause } : 'retry';
    }
    if (outcome === 'retry') {
      this.watcher?.fallback();
      // Nothing of the batch was written: each turn alone, in call order, gets its own rows or its own error.
      for (const waiting of batch) await this.alone(this.db, waiting.turn).then(waiting.resolve, waiting.reject);
      return;
    }
    if ('failed' in outcome) {
      for (const waiting of batch) waiting.reject(outcome.failed);
      return;
    }
    await this.deliver(batch, outcome.rows);
  }

  /** Runs the batched statement in a transaction; a lost commit answer is settled by the transaction's status. */
  private async together(turns: QueuedTurn[]): Promise<Message[]> {
    let returned: Message[] | undefined;
    try {
      await this.db.transaction().execute(async (trx) => {
        returned = (await trx.executeQuery<Message>(batchStatement(turns))).rows;
      });
      return returned!;
    } catch (error) {
      const xid = returned?.[0]?.batch_xid;
      // No rows came back (every conversation refused) or the statement failed: no commit was attempted or it had
      // nothing to write; either way retrying alone writes nothing twice.
      if (typeof xid !== 'string') throw error;
      const status = await this.statusOf(xid);
      if (status === 'committed') {
        // A transaction id says "committed" for this batch only if the server did not crash in between: ids whose
        // WAL never reached the disk are handed out again after crash recovery, and another transaction may have
        // committed under this one's. Its rows are the proof (message ids are random, written by no one else).
        const written = await this.rowsStored(returned!);
        if (written === true) return returned!;
        if (written === false) throw error;
        throw new UnresolvedCommit(error);
      }
      if (status === 'aborted') throw error;
      throw new UnresolvedCommit(error);
    }
  }

  /** Whether the batch's first message is in the table (all or none of a batch is), or undefined if unknown. */
  private async rowsStored(returned: Message[]): Promise<boolean | undefined> {
    try {
      const { rows } = await this.db.executeQuery<{ stored: boolean }>(CompiledQuery.raw(ROW_STORED, [returned[0]!.id]));
      return rows[0]?.stored === true;
    } catch {
      return undefined;
    }
  }

  private async statusOf(xid: string): Promise<string | undefined> {
    for (let attempt = 0; attempt < XACT_STATUS_ATTEMPTS; attempt++) {
      try {
        const { rows } = await this.db.executeQuery<{ status: string | null }>(CompiledQuery.raw(XACT_STATUS, [xid]));
        const status = rows[0]?.status ?? 'aborted';
        if (status !== 'in progress') return status;
      } catch {
        // The server does not answer yet; ask again.
      }
      await new Promise((resolve) => setTimeout(resolve, XACT_STATUS_PAUSE_MS));
    }
    return undefined;
  }

  private async deliver(batch: Waiting[], returned: Message[]): Promise<void> {
    const perTurn = rowsByTurn(
      batch.map((waiting) => waiting.turn),
      returned,
    );
    const refused = [...new Set(batch.filter((_, i) => !perTurn[i]).map((waiting) => waiting.turn.conversationId))];
    let known = new Set<string>();
    if (refused.length > 0) {
      try {
        const { rows } = await this.db.executeQuery<{ id: string }>(CompiledQuery.raw(CONVERSATION_STATES, [refused]));
        known = new Set(rows.map((row) => row.id));
      } catch (error) {
        for (const [i, waiting] of batch.entries()) if (!perTurn[i]) waiting.reject(error);
        known = new Set(refused);
      }
    }
    for (const [i, waiting] of batch.entries()) {
      const rows = perTurn[i];
      if (rows) waiting.resolve(rows);
      else waiting.reject(refusal(waiting.turn.conversationId, known.has(waiting.turn.conversationId)));
    }
  }
}

/** A commit whose answer was lost and whose outcome the server could not tell in time. */
class UnresolvedCommit extends Error {
  constructor(cause: unknown) {
    super('the outcome of a batched append is unknown', { cause });
  }
}

// One coalescer per database handle: its turns share statements, another handle's (another pool) do not.
const coalescers = new WeakMap<Kysely<DB>, AppendCoalescer>();

function coalescerOf(db: Kysely<DB>): AppendCoalescer {
  let coalescer = coalescers.get(db);
  if (!coalescer) {
    coalescer = new AppendCoalescer(db);
    coalescers.set(db, coalescer);
  }
  return coalescer;
}

/** The single-turn append: its statement and its errors, for a batch of one and for retries. */
export type AppendAlone<M> = (db: Kysely<DB>, turn: QueuedTurn) => Promise<M[]>;

/** Appends `turn` through `db`'s coalescer: at once when nothing is in flight, else with the next batch. */
export function coalescedAppend<M>(db: Kysely<DB>, turn: QueuedTurn, alone: AppendAlone<M>): Promise<M[]> {
  const coalescer = coalescerOf(db);
  coalescer.alone = alone as unknown as AppendAlone<Message>;
  return coalescer.append(turn) as unknown as Promise<M[]>;
}

/** Reports `db`'s batches to `watcher` (one watcher per handle: a new one replaces it). Returns how to stop. */
export function watchAppendBatches(db: Kysely<DB>, watcher: AppendBatchWatcher): () => void {
  const coalescer = coalescerOf(db);
  coalescer.watcher = watcher;
  return () => {
    if (coalescer.watcher === watcher) coalescer.watcher = undefined;
  };
}
