/**
 * The configuration schema: every key with its type, default, unit and one sentence of
 * description. `load.ts` validates a file against it, `reference.ts` renders the README's
 * config reference from it, and a test checks config/config.yaml against it.
 *
 * V7's sections and keys are kept (oracle_db, mariadb, nats, intime_txlog_events, publisher,
 * logging, each client's retry section); the new design adds `source` and a few publisher keys.
 */

import { isNatsSubject, isStreamName, isTableName, isTimeZone } from "./patterns";

export type Field = StringField | NumberField | BooleanField | ListField | SectionField;

interface Common {
  description: string;
  /** Maps a legacy (V7) spelling to the canonical value before validation. */
  normalize?: (value: unknown) => unknown;
  /** Environment variable that overrides the file's value. */
  env?: string;
  /** Never echoed in errors or logs. */
  secret?: boolean;
}
export interface StringField extends Common {
  kind: "string";
  default?: string;
  oneOf?: readonly string[];
  /** Checked after oneOf; `hint` says what is expected. */
  pattern?: { test: (value: string) => boolean; hint: string };
  allowEmpty?: boolean;
}
export interface NumberField extends Common {
  kind: "number";
  default?: number;
  integer?: boolean;
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  above?: number;
  unit?: string;
}
export interface BooleanField extends Common {
  kind: "boolean";
  default?: boolean;
}
/** A list of strings; a single string (or a comma-separated env value) is accepted too. */
export interface ListField extends Common {
  kind: "list";
  default?: readonly string[];
}
export interface SectionField {
  kind: "section";
  description: string;
  fields: Record<string, Field>;
  /** Absent sections are filled with defaults; `requiredWhen` makes one mandatory. */
  requiredWhen?: (config: Record<string, unknown>) => boolean;
  /** Absent means "not configured" (value undefined) rather than "all defaults". */
  optional?: boolean;
}

const identifier = {
  test: (v: string) => isTableName(v),
  hint: "an identifier like TXLOG_EVENTS or SCHEMA.TXLOG_EVENTS",
};
const natsSubject = {
  test: isNatsSubject,
  hint: "a NATS subject without wildcards, like intime.txlog.events",
};
const startFrom = {
  test: (v: string) => v === "earliest" || v === "latest" || !Number.isNaN(Date.parse(v)),
  hint: "earliest, latest, or an ISO-8601 timestamp like 2026-01-31T00:00:00",
};
const timeZone = {
  test: isTimeZone,
  hint: "UTC, a fixed offset like +09:00, or an IANA region like Europe/Berlin",
};

function retrySection(client: string) {
  return {
    kind: "section",
    description: `Backoff for ${client}: connecting, and retrying operations that failed with a transient error.`,
    fields: {
      max_retries: { kind: "number", integer: true, min: 0, default: 5, description: "Retries after the first attempt before the operation fails." },
      initial_backoff: { kind: "number", above: 0, default: 1, unit: "seconds", description: "Wait before the first retry." },
      max_backoff: { kind: "number", above: 0, default: 30, unit: "seconds", description: "Longest wait between retries." },
      backoff_multiplier: { kind: "number", min: 1, default: 2, description: "Factor between one wait and the next." },
    },
  } as const satisfies SectionField;
}

const mariadbConnection = (envPrefix: string, what: string) =>
  ({
    host: { kind: "string", default: "127.0.0.1", env: `${envPrefix}HOST`, description: `Host of the MariaDB ${what}.` },
    port: { kind: "number", integer: true, min: 1, max: 65535, default: 3306, env: `${envPrefix}PORT`, description: "TCP port." },
    user: { kind: "string", default: "root", env: `${envPrefix}USER`, description: "User name." },
    password: {
      kind: "string",
      default: "",
      allowEmpty: true,
      secret: true,
      env: `${envPrefix}PASSWORD`,
      description: "Password (prefer the environment variable).",
    },
    database: { kind: "string", default: "test", env: `${envPrefix}DATABASE`, description: "Database (schema) name." },
    ssl: tlsSection(`the MariaDB ${what}`, "ssl"),
  }) as const satisfies Record<string, Field>;

/** PEM file paths for a TLS connection; the section's presence turns TLS on. */
function tlsSection(to: string, key: string) {
  return {
    kind: "section",
    optional: true,
    description: `TLS to ${to}; absent: no TLS (\`${key}: {}\` is TLS verified against the system CAs). The server certificate is always verified.`,
    fields: {
      ca: { kind: "string", default: "", allowEmpty: true, description: "PEM file of the CA(s) that signed the server certificate (empty: the system CAs)." },
      cert: { kind: "string", default: "", allowEmpty: true, description: "PEM file of the client certificate, when the server asks for one (empty: none)." },
      key: { kind: "string", default: "", allowEmpty: true, description: "PEM file of the client certificate's private key (required with cert)." },
    },
  } as const satisfies SectionField;
}

export const schema = {
  kind: "section",
  description: "The whole file.",
  fields: {
    source: {
      kind: "section",
      description: "Where the events are read from.",
      fields: {
        kind: {
          kind: "string",
          oneOf: ["oracle", "mariadb"],
          default: "oracle",
          description: "Source database: oracle (production) or mariadb (tests, demos, MariaDB-hosted tables).",
        },
        table: {
          kind: "string",
          pattern: identifier,
          default: "spc.TXLOG_EVENTS",
          description: "Table to read; also the prefix of every Nats-Msg-Id, so changing it re-publishes.",
        },
        time_zone: {
          kind: "string",
          pattern: timeZone,
          default: "UTC",
          description:
            "Zone of the table's naive timestamps: UTC, a fixed offset, or an IANA region (offset per value, daylight saving included; the repeated autumn hour is ambiguous, so prefer UTC or TIMESTAMP WITH TIME ZONE). Appended to the ISO-8601 timestamps in messages.",
        },
        mariadb: {
          kind: "section",
          optional: true,
          description: "Connection when kind is mariadb; when absent, the `mariadb` section's connection is used.",
          fields: mariadbConnection("SOURCE_MARIADB_", "source database"),
        },
      },
    },
    oracle_db: {
      kind: "section",
      description: "Oracle source (node-oracledb Thin mode); required when source.kind is oracle.",
      requiredWhen: (c) => ((c.source as Record<string, unknown> | undefined)?.kind ?? "oracle") === "oracle",
      fields: {
        user: { kind: "string", env: "ORACLE_USER", description: "Oracle user." },
        password: {
          kind: "string",
          env: "ORACLE_PASSWORD",
          secret: true,
          allowEmpty: true,
          default: "",
          description: "Oracle password (prefer the environment variable ORACLE_PASSWORD).",
        },
        dsn: { kind: "string", env: "ORACLE_DSN", description: "Connect string, e.g. dbhost:1521/ORCLPDB1 or a TNS descriptor." },
        pool_min: { kind: "number", integer: true, min: 0, default: 0, description: "Connections kept open in the pool." },
        pool_max: { kind: "number", integer: true, min: 1, default: 2, description: "Connections at most." },
        fetch_array_size: { kind: "number", integer: true, min: 1, default: 1000, unit: "rows", description: "Rows per round trip when fetching." },
        prefetch_rows: { kind: "number", integer: true, min: 0, default: 1000, unit: "rows", description: "Rows fetched with the query's first round trip." },
        call_timeout: { kind: "number", min: 0, default: 60, unit: "seconds", description: "Longest a single database call may take (0 = no limit)." },
        wallet_location: {
          kind: "string",
          default: "",
          allowEmpty: true,
          description: "TCPS: directory holding the PEM wallet ewallet.pem (Thin mode's walletLocation; empty: none).",
        },
        wallet_password: {
          kind: "string",
          default: "",
          allowEmpty: true,
          secret: true,
          env: "ORACLE_WALLET_PASSWORD",
          description: "TCPS: password of an encrypted ewallet.pem (walletPassword; empty: none).",
        },
        config_dir: {
          kind: "string",
          default: "",
          allowEmpty: true,
          description: "Directory of tnsnames.ora, for a dsn that is a TNS alias (configDir; empty: the driver's default, $TNS_ADMIN).",
        },
        ssl_server_dn_match: {
          kind: "boolean",
          default: true,
          description: "TCPS: check the server certificate's name against the host (sslServerDNMatch).",
        },
        ssl_server_cert_dn: {
          kind: "string",
          default: "",
          allowEmpty: true,
          description: "TCPS: the exact distinguished name the server certificate must have (sslServerCertDN; empty: match the host name).",
        },
        retry: retrySection("Oracle"),
      },
    },
    mariadb: {
      kind: "section",
      description: "Tracking store: the ETL_PRMREC table (and the lock that keeps one instance per program).",
      fields: {
        ...mariadbConnection("MARIADB_", "tracking database"),
        connect_timeout: { kind: "number", above: 0, default: 10, unit: "seconds", description: "Time allowed to open a connection." },
        query_timeout: {
          kind: "number",
          above: 0,
          default: 30,
          unit: "seconds",
          description:
            "Longest any MariaDB statement may take (tracking store, and a MariaDB source); past it the connection is destroyed and the error is transient.",
        },
        lock_check_interval: {
          kind: "number",
          above: 0,
          default: 1,
          unit: "seconds",
          description: "How often the instance holding the program lock checks it still does; a failed check stops publishing at once.",
        },
        retry: retrySection("MariaDB"),
      },
    },
    nats: {
      kind: "section",
      description: "NATS JetStream connection.",
      fields: {
        servers: {
          kind: "list",
          default: ["nats://127.0.0.1:4222"],
          env: "NATS_SERVERS",
          description: "Server URLs (a list, or comma-separated in NATS_SERVERS).",
        },
        user: { kind: "string", default: "", allowEmpty: true, env: "NATS_USER", description: "User for user/password authentication (empty: none)." },
        password: {
          kind: "string",
          default: "",
          allowEmpty: true,
          secret: true,
          env: "NATS_PASSWORD",
          description: "Password for user/password authentication.",
        },
        token: { kind: "string", default: "", allowEmpty: true, secret: true, env: "NATS_TOKEN", description: "Token authentication (empty: none)." },
        nkey_seed: {
          kind: "string",
          default: "",
          allowEmpty: true,
          secret: true,
          env: "NATS_NKEY_SEED",
          pattern: { test: (v) => /^SU[A-Z2-7]{56}$/.test(v), hint: "a user NKey seed (58 characters starting with SU)" },
          description: "NKey authentication: the user's seed (prefer NATS_NKEY_SEED_FILE; empty: none).",
        },
        creds: {
          kind: "string",
          default: "",
          allowEmpty: true,
          env: "NATS_CREDS",
          description: "JWT authentication: path of the user's .creds file (empty: none).",
        },
        tls: tlsSection("NATS", "tls"),
        name: { kind: "string", default: "oracle-nats-publisher", description: "Connection name shown by the server." },
        connect_timeout: { kind: "number", above: 0, default: 10, unit: "seconds", description: "Time allowed for one connection attempt." },
        publish_timeout: {
          kind: "number",
          above: 0,
          default: 10,
          unit: "seconds",
          description: "Time an ack may take; after it the publish is an unknown outcome and is retried with the same Nats-Msg-Id.",
        },
        ack_mode: {
          kind: "string",
          oneOf: ["inbox", "stock"],
          default: "inbox",
          description: "inbox: publish with a reply subject under one shared subscription (lean, ~2x); stock: the client's js.publish().",
        },
        duplicate_window: {
          kind: "number",
          above: 0,
          default: 120,
          unit: "seconds",
          description:
            "Duplicate window of the stream when this service creates it: a retry within it is absorbed by msg id (replays after a crash are also caught by the stream scan).",
        },
        retry: retrySection("NATS (connecting, and re-publishing a message whose ack timed out)"),
      },
    },
    intime_txlog_events: {
      kind: "section",
      description: "What is published (V7 keys).",
      fields: {
        stream_name: {
          kind: "string",
          default: "TXLOG_EVENTS",
          pattern: { test: isStreamName, hint: "a stream name without spaces, dots or wildcards" },
          description: "JetStream stream; created if missing, else checked to capture both subjects.",
        },
        subject: { kind: "string", default: "intime.txlog.events", pattern: natsSubject, description: "Subject every event is published to." },
        data_type: { kind: "string", default: "txlog_event", allowEmpty: true, description: "Value of the data_type field of every event." },
        trace_id: {
          kind: "string",
          default: "uuid4",
          // V7 configs carry this key with values of their own: any of them means a random UUID.
          normalize: (v) => (typeof v === "boolean" || typeof v === "number" ? "uuid4" : v),
          description:
            "trace_id of each event: row gives a UUID derived from table and ID (the same on every replay); uuid4, or any other V7 value, a random UUID.",
        },
        dead_letter_subject: {
          kind: "string",
          default: "",
          allowEmpty: true,
          description: "Subject for rows that can never be published; empty means <subject>.dlq.",
        },
      },
    },
    publisher: {
      kind: "section",
      description: "The poll loop and the pipeline.",
      fields: {
        program_name: { kind: "string", default: "intime_txlog_events", description: "PROGRAM_NAME of this publisher's row in ETL_PRMREC." },
        polling_interval: {
          kind: "number",
          min: 0,
          default: 10,
          unit: "seconds",
          description: "Pause between cycles (none after a cycle that hit max_records_per_run).",
        },
        batch_size: {
          kind: "number",
          integer: true,
          min: 1,
          max: 100000,
          default: 1000,
          unit: "rows",
          description: "Rows per database page and per pipeline chunk.",
        },
        max_records_per_run: { kind: "number", integer: true, min: 1, default: 500000, unit: "rows", description: "Rows per cycle at most." },
        max_retries: {
          kind: "number",
          integer: true,
          min: 0,
          default: 3,
          description: "With --once: failed cycles retried before exiting non-zero (the loop always retries at the next poll).",
        },
        failure_backoff: {
          kind: "number",
          above: 0,
          default: 1,
          unit: "seconds",
          description:
            "Wait after a failed cycle before the next; multiplied by failure_backoff_multiplier per further failure in a row, at most polling_interval.",
        },
        failure_backoff_multiplier: { kind: "number", min: 1, default: 2, description: "Factor between one failure's wait and the next." },
        max_in_flight: {
          kind: "number",
          integer: true,
          min: 1,
          max: 65536,
          default: 1024,
          unit: "messages",
          description: "JetStream publishes awaiting their ack at most.",
        },
        safety_lag_seconds: {
          kind: "number",
          min: 0,
          default: 5,
          unit: "seconds",
          description: "Read only rows stamped at or before database now minus this, so rows whose transactions commit late are not skipped.",
        },
        start_from: {
          kind: "string",
          pattern: startFrom,
          default: "earliest",
          description: "Where to start when ETL_PRMREC has no watermark: earliest, latest, or an ISO-8601 timestamp (in source.time_zone's wall-clock).",
        },
        checkpoint_interval: {
          kind: "number",
          above: 0,
          default: 5,
          unit: "seconds",
          description: "How often the acknowledged watermark is committed during a long cycle.",
        },
        on_unpublishable: {
          kind: "string",
          oneOf: ["dead_letter", "fail"],
          default: "dead_letter",
          description:
            "A row JetStream can never take (over max_payload, rejected by the stream): publish a dead-letter message and go on, or fail the cycle at it.",
        },
        serialization: {
          kind: "string",
          oneOf: ["inline", "piscina"],
          default: "inline",
          description: "Where events are serialized: inline on the main thread, or in a piscina worker pool.",
        },
        workers: { kind: "number", integer: true, min: 1, max: 64, default: 1, description: "piscina worker threads when serialization is piscina." },
        shutdown_timeout: {
          kind: "number",
          above: 0,
          default: 30,
          unit: "seconds",
          description: "On SIGTERM/SIGINT, how long to wait for in-flight acks before closing anyway.",
        },
        standby: {
          kind: "boolean",
          default: true,
          description:
            "Another instance already active for this program_name: wait as a hot standby (connected, publishing nothing) and take over when its lock frees; false: exit 1 with the LockError (--once never waits).",
        },
      },
    },
    logging: {
      kind: "section",
      description: "Logs (pino, to stdout).",
      fields: {
        level: {
          kind: "string",
          oneOf: ["trace", "debug", "info", "warn", "error", "fatal", "silent"],
          default: "info",
          // V7 (Python) spells levels INFO, WARNING, CRITICAL.
          normalize: (v) => (typeof v === "string" ? ({ warning: "warn", critical: "fatal" }[v.toLowerCase()] ?? v.toLowerCase()) : v),
          description: "Lowest level written (Python's INFO, WARNING, CRITICAL are accepted too).",
        },
        format: { kind: "string", oneOf: ["json", "pretty"], default: "json", description: "json (one object per line) or pretty (for a terminal)." },
        heartbeat_interval: {
          kind: "number",
          min: 0,
          default: 300,
          unit: "seconds",
          description: "On an idle table, one line (rows 0, lag, rows waiting, watermark) this often; 0 turns it off.",
        },
      },
    },
    metrics: {
      kind: "section",
      description:
        "The operations endpoint: /metrics (Prometheus), /healthz (the loop is alive), /readyz (connected and not failing). Off by default; it binds 127.0.0.1 unless host says otherwise, because the metrics describe the service's operation and should not reach the network by accident (set 0.0.0.0 in a container).",
      fields: {
        enabled: { kind: "boolean", default: false, env: "METRICS_ENABLED", description: "Serve the endpoint." },
        host: {
          kind: "string",
          default: "127.0.0.1",
          env: "METRICS_HOST",
          description: "Address to bind: 127.0.0.1 (this host only), 0.0.0.0 (every interface, e.g. in a container).",
        },
        port: { kind: "number", integer: true, min: 0, max: 65535, default: 9464, env: "METRICS_PORT", description: "TCP port (0 picks a free one)." },
        ready_failure_grace: {
          kind: "number",
          min: 0,
          default: 60,
          unit: "seconds",
          description: "/readyz stays 200 this long after a failed cycle (the loop retries it); then 503 until a cycle succeeds.",
        },
        liveness_timeout: {
          kind: "number",
          above: 0,
          default: 600,
          unit: "seconds",
          description: "/healthz turns 503 when the poll loop has shown no progress for this long; keep it above polling_interval plus the longest cycle.",
        },
      },
    },
  },
} as const satisfies SectionField;

/**
 * The validated configuration's type, derived from the schema above: adding a key to a section
 * adds it here. A string with `oneOf` becomes the union of its values; a section that may be
 * absent (`optional`, or `requiredWhen`) becomes an optional property.
 */
export type ValueOf<F> = F extends { kind: "section"; fields: infer Fields }
  ? SectionValue<Fields>
  : F extends { kind: "string"; oneOf: readonly (infer O)[] }
    ? O
    : F extends { kind: "string" }
      ? string
      : F extends { kind: "number" }
        ? number
        : F extends { kind: "boolean" }
          ? boolean
          : F extends { kind: "list" }
            ? string[]
            : never;

type MaybeAbsent<F> = F extends { optional: true } | { requiredWhen: unknown } ? true : false;
type SectionValue<Fields> = {
  -readonly [K in keyof Fields as MaybeAbsent<Fields[K]> extends true ? never : K]: ValueOf<Fields[K]>;
} & {
  -readonly [K in keyof Fields as MaybeAbsent<Fields[K]> extends true ? K : never]?: ValueOf<Fields[K]>;
};

export type Config = ValueOf<typeof schema>;
export type RetryConfig = Config["nats"]["retry"];
export type MariadbConnectionConfig = NonNullable<Config["source"]["mariadb"]>;
export type TlsFilesConfig = NonNullable<Config["nats"]["tls"]>;
