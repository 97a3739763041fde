import type { Kysely } from 'kysely';
import pg from 'pg';
import { announceDueReminders, REMINDER_CHANNEL, type ReminderAnnouncement } from '../core/reminders.ts';
import type { DB } from '../db/schema.ts';
import { errorLogFields } from '../errors.ts';
import { pgConnectionOptions } from '../db/tls.ts';
import type { Logger } from '../logger.ts';

interface Subscriber {
  deliver(reminder: ReminderAnnouncement): void;
  /** Called when the service stops, to end the stream. */
  end(): void;
}

/**
 * Pushes due reminders. Every `intervalMs` it claims and announces the due ones (`announceDueReminders`: NOTIFY on
 * commit, each reminder once across all services); a LISTEN connection of its own hears every announcement,
 * whichever service made it, and hands it to this service's subscribers (the SSE streams). A lost LISTEN
 * connection is re-opened with back-off.
 */
export class ReminderStream {
  private readonly subscribers = new Set<Subscriber>();
  private listener: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private stopped = false;
  private claiming = false;
  private backoffMs = 500;
  private reconnecting?: Promise<void>;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly databaseUrl: string,
    private readonly logger: Logger,
    // Also bounds how long stop() can wait for a reconnection under way.
    private readonly connectTimeoutMs: number,
    private readonly intervalMs = 1000,
  ) {}

  async start(): Promise<void> {
    await this.listen();
    this.timer = setInterval(() => void this.claim(), this.intervalMs);
  }

  subscribe(subscriber: Subscriber): () => void {
    this.subscribers.add(subscriber);
    return () => void this.subscribers.delete(subscriber);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.reconnect);
    await this.reconnecting;
    while (this.claiming) await new Promise((resolve) => setTimeout(resolve, 10));
    await this.listener?.end().catch(() => undefined);
    for (const subscriber of this.subscribers) subscriber.end();
    this.subscribers.clear();
  }

  private async claim(): Promise<void> {
    // An announcement is a NOTIFY: made while the LISTEN connection is down (the database restarting), it would
    // reach no stream here and the claimed reminders would never be pushed. They wait for the listener instead.
    if (this.claiming || this.stopped || !this.listener) return;
    this.claiming = true;
    try {
      const announced = await announceDueReminders(this.db);
      if (announced) this.logger.info({ announced }, 'reminders due');
    } catch (error) {
      // The database may be restarting; the next tick tries again and nothing was claimed meanwhile.
      this.logger.warn(errorLogFields(error), 'could not claim due reminders');
    } finally {
      this.claiming = false;
    }
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({
      ...pgConnectionOptions(this.databaseUrl),
      application_name: 'mordomo-db reminders',
      connectionTimeoutMillis: this.connectTimeoutMs,
    });
    client.on('notification', (message) => {
      if (message.channel !== REMINDER_CHANNEL || !message.payload) return;
      const reminder = JSON.parse(message.payload) as ReminderAnnouncement;
      for (const subscriber of this.subscribers) subscriber.deliver(reminder);
    });
    const lost = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', lost);
    try {
      await client.connect();
      await client.query(`LISTEN ${REMINDER_CHANNEL}`);
      // A reconnection that was under way when the stream stopped must not leave a connection behind: it would
      // hold the process open after shutdown.
      if (this.stopped) {
        client.removeAllListeners('end');
        await client.end().catch(() => undefined);
        return;
      }
      this.listener = client;
      this.backoffMs = 500;
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.logger.warn({ retryInMs: this.backoffMs }, 'reminder listener lost its connection; reconnecting');
    this.reconnect = setTimeout(() => {
      this.reconnecting = this.listen().catch(() => {
        this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
        this.scheduleReconnect();
      });
    }, this.backoffMs);
  }
}
