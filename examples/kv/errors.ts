/**
 * The kv store's own errors (clfs's are ClfsErrors and pass through as they are).
 * @module
 */

/** The codes of {@link KvError}. */
export type KvErrorCode =
  /** Wait-die: a younger transaction asked for a key an older one holds; abort it and retry. */
  | 'ERR_KV_CONFLICT'
  /** The transaction has committed or aborted already. */
  | 'ERR_KV_TXN_ENDED'
  /** The store is closed. */
  | 'ERR_KV_CLOSED'
  /** The checkpoint (the whole state) no longer fits one restart record. */
  | 'ERR_KV_TOO_LARGE';

/** An error of the kv store, with a stable code. */
export class KvError extends Error {
  readonly code: KvErrorCode;

  constructor(code: KvErrorCode, message: string) {
    super(message);
    this.name = 'KvError';
    this.code = code;
  }
}
