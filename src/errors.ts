/**
 * Every error this service raises on purpose: a `name`, a stable `code` operators can grep
 * for, and the underlying error as `cause`. Messages name what is wrong and never carry
 * passwords.
 */
export class PublisherError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The configuration file is missing, unreadable, not YAML, or fails the schema. */
export class ConfigError extends PublisherError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_CONFIG", message, options);
  }
}

/**
 * A source database failed. `transient` says whether retrying with a fresh connection may
 * help (decided in one place per adapter).
 */
export class SourceError extends PublisherError {
  readonly transient: boolean;
  constructor(message: string, transient: boolean, options?: { cause?: unknown }) {
    super(transient ? "E_SOURCE_TRANSIENT" : "E_SOURCE", message, options);
    this.transient = transient;
  }
}

/** The tracking store (ETL_PRMREC in MariaDB) failed. */
export class TrackingError extends PublisherError {
  readonly transient: boolean;
  constructor(message: string, transient: boolean, options?: { cause?: unknown }) {
    super(transient ? "E_TRACKING_TRANSIENT" : "E_TRACKING", message, options);
    this.transient = transient;
  }
}

/** JetStream did not acknowledge a message: after every retry, or with a permanent error. */
export class PublishError extends PublisherError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_PUBLISH", message, options);
  }
}

/** A row that can never be published (too large, rejected by the stream) under `dead_letter: fail`. */
export class UnpublishableRowError extends PublisherError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_UNPUBLISHABLE", message, options);
  }
}

/** Another process holds this program's lock. */
export class LockError extends PublisherError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_LOCKED", message, options);
  }
}

/**
 * One line for a log or a CLI error: the message, then each cause's message that does not
 * already appear in it (adapters usually quote their driver's message).
 */
export function describeError(err: unknown): string {
  const flat = (text: string) => text.replace(/\s+/g, " ").trim();
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const msg = flat(e instanceof Error ? e.message : String(e));
    const code = (e as { code?: unknown }).code;
    const label = typeof code === "string" && !msg.includes(code) && !(e instanceof PublisherError) ? `${code}: ${msg}` : msg;
    const known = parts.join(" ");
    // A cause whose first words are already quoted adds nothing.
    if (label && !known.includes(flat(msg).slice(0, 60))) parts.push(label);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": caused by: ");
}

/**
 * A watermark write (or read) was refused because this instance no longer holds its
 * program's lock: another instance may own the watermark now, so nothing may be committed.
 */
export class FencedError extends PublisherError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_FENCED", message, options);
  }
}
