import type { z } from 'zod';
import type { IdempotencyOptions } from '../db/idempotency.ts';
import type { DomainContext } from './domain-context.ts';

/**
 * What an IVR operation needs from the domain handle, declared once beside its function. The handle (ivr.ts) reads
 * it to check the input, bring the encryption key and keep the idempotency key; the function only does its SQL.
 */
export type Needs = {
  /**
   * `'read'`: runs with the encryption key (the current one, else the next during a rotation). `'write'`: when the
   * parsed input has a `config`, runs with the key and the config as transaction settings (never statement text),
   * the key claimed before any row is touched; without a config, runs without the key.
   */
  readonly key?: 'read' | 'write';
  /** Takes `{ idempotencyKey }` after its arguments: a retry with the same key returns the first result (db/idempotency.ts). */
  readonly idempotent?: boolean;
} & (
  | {
      /** Checks the function's last argument before any SQL; the function receives the parsed value. */
      readonly input: z.ZodType;
      /** What the input is, as errors name it ("invalid provider: …"). */
      readonly what: string;
    }
  | { readonly input?: undefined; readonly what?: undefined }
);

/** An IVR function over a domain's transaction, with what it needs; `Scoped` turns it into a method of the handle. */
export interface Operation<Args extends unknown[] = never, Result = unknown> {
  readonly needs: Needs;
  /** How many arguments the function takes after the context: the last is the input, the idempotency options follow. */
  readonly arity: number;
  run(context: DomainContext, ...args: unknown[]): Promise<Result>;
  /** The method's signature on the handle (types only). */
  readonly method?: (...args: Args) => Promise<Result>;
}

/** The function's arguments as callers give them: the last one as the schema takes it (optional when it may be left out). */
type Given<N extends Needs, A extends unknown[]> = N extends { input: infer S extends z.ZodType }
  ? A extends [...infer Before, unknown]
    ? undefined extends z.input<S>
      ? [...Before, input?: z.input<S>]
      : [...Before, input: z.input<S>]
    : never
  : A;

/** The handle's arguments: the function's, then the idempotency options when it takes them. */
type MethodArgs<N extends Needs, A extends unknown[]> = N extends { idempotent: true } ? [...Given<N, A>, options?: IdempotencyOptions] : Given<N, A>;

/** What the function must take last when the handle parses its input: the schema's output. */
type Accepts<N extends Needs> = N extends { input: infer S extends z.ZodType } ? [...unknown[], z.output<S>] : unknown[];

/**
 * Declares an IVR operation: `run` over a domain's transaction, with what it needs. The input, when declared, is
 * `run`'s last parameter (without a default: the handle finds it by `run.length`).
 *
 * @example
 * export const providerOperations = {
 *   createProvider: operation({ input: newProvider, what: 'provider', key: 'write', idempotent: true }, createProvider),
 * };
 */
export function operation<const N extends Needs, A extends Accepts<N>, R>(
  needs: N,
  run: (context: DomainContext, ...args: A) => Promise<R>,
): Operation<MethodArgs<N, A>, R> {
  return { needs, arity: run.length - 1, run };
}

/** The handle's methods for a table of operations: each one's signature, its doc comment carried over. */
export type Scoped<T> = { [K in keyof T]: T[K] extends Operation<infer A, infer R> ? (...args: A) => Promise<R> : never };
