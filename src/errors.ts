/**
 * Every error this service raises on purpose: a `name`, a stable `code` operators can grep
 * for, and the underlying error as `cause`. Messages name what is wrong and never carry
 * passwords.
 *
 * The codes are a closed set: each error class has exactly one (two for the classes that say
 * whether a retry may help), and a code not listed here does not compile.
 */
export const ERROR_CODES = {
  /** ConfigError: the configuration file is missing, unreadable, not YAML, or fails the schema. Exit 2. */
  E_CONFIG: "ConfigError",
  /** UsageError: an unknown or incomplete command-line argument. Exit 2. */
  E_USAGE: "UsageError",
  /** SourceError, permanent: the source database refused (credentials, missing table, bad SQL). */
  E_SOURCE: "SourceError",
  /** SourceError, transient: the source database was unreachable or dropped the connection. */
  E_SOURCE_TRANSIENT: "SourceError",
  /** TrackingError, permanent: ETL_PRMREC (MariaDB) refused. */
  E_TRACKING: "TrackingError",
  /** TrackingError, transient: ETL_PRMREC (MariaDB) was unreachable or dropped the connection. */
  E_TRACKING_TRANSIENT: "TrackingError",
  /** PublishError: JetStream did not acknowledge a message, after every retry or permanently. */
  E_PUBLISH: "PublishError",
  /** UnpublishableRowError: a row JetStream can never take, under on_unpublishable: fail. */
  E_UNPUBLISHABLE: "UnpublishableRowError",
  /** LockError: another process holds this program's lock. */
  E_LOCKED: "LockError",
  /** NatsSetupError: connecting to NATS, JetStream missing, or the stream refused. */
  E_NATS: "NatsSetupError",
  /** NatsAuthError: NATS refused our credentials or TLS, or a credential cannot be used. Never retried. */
  E_NATS_AUTH: "NatsAuthError",
  /** TlsFileError: a configured certificate or key file cannot be read. */
  E_TLS_FILE: "TlsFileError",
  /** FencedError: this instance lost its program lock; it stopped publishing and commits nothing. */
  E_FENCED: "FencedError",
  /** ShutdownError: a cycle cut short by the shutdown timeout or a second signal. */
  E_SHUTDOWN: "ShutdownError",
  /** CycleError: a poll cycle failed; its cause says why (the cause's code is the cause's). */
  E_CYCLE: "CycleError",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class PublisherError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
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

/** An unknown or incomplete command-line argument (exit 2, like a configuration error). */
export class UsageError extends PublisherError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_USAGE", message, options);
  }
}

/** Connecting to NATS failed, JetStream is not available, or the stream cannot be used. */
export class NatsSetupError extends PublisherError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_NATS", message, options);
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
 * This instance lost its program lock while a cycle ran (fencing): another instance may hold
 * it now. The cycle stopped publishing at once and committed nothing after noticing.
 */
export class FencedError extends PublisherError {
  constructor(
    message = "lost the program lock: another instance may be active; stopped publishing at once and committed nothing after",
    options?: { cause?: unknown },
  ) {
    super("E_FENCED", message, options);
  }
}

/**
 * The server refused our credentials or our TLS, or a credential cannot be used: the same
 * attempt would fail the same way, so it is never retried. Thrown as the `cause` of the
 * NatsSetupError that names the servers (the retry predicate classifies the cause).
 */
export class NatsAuthError extends PublisherError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_NATS_AUTH", message, options);
  }
}

/** A configured certificate or key file cannot be used. Permanent: retrying reads the same file. */
export class TlsFileError extends PublisherError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_TLS_FILE", message, options);
  }
}
