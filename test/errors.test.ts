import t from "tap";
import {
  ConfigError,
  describeError,
  ERROR_CODES,
  FencedError,
  LockError,
  NatsAuthError,
  NatsSetupError,
  PublishError,
  type PublisherError,
  SourceError,
  TlsFileError,
  TrackingError,
  UnpublishableRowError,
  UsageError,
} from "../src/errors";
import { CycleError, ShutdownError } from "../src/pipeline/cycle";

t.test("describeError gives one line: the message, then only causes that add something", async (t) => {
  const driver = Object.assign(new Error("NJS-503: connection to host db port 1521\ncould not be established"), { code: "NJS-503" });
  const quoted = new SourceError(`Oracle page query failed: ${driver.message.replace("\n", " ")}`, true, { cause: driver });
  t.equal(describeError(quoted), "Oracle page query failed: NJS-503: connection to host db port 1521 could not be established");
  const wrapped = new Error("cycle failed", { cause: Object.assign(new Error("socket closed"), { code: "ECONNRESET" }) });
  t.equal(describeError(wrapped), "cycle failed: caused by: ECONNRESET: socket closed");
  t.equal(describeError("plain"), "plain");
  t.notMatch(describeError(quoted), /\n/);
});

t.test("every error class has its own code from the closed list", async (t) => {
  const cause = Object.assign(new Error("socket closed"), { code: "ECONNRESET" });
  const result = { rows: 0, read: 0, full: false, watermark: null, seconds: 0, duplicates: 0, recovered: 0, deadLettered: 0, retries: 0 };
  const errors: PublisherError[] = [
    new ConfigError("x"),
    new UsageError("x"),
    new SourceError("x", false),
    new SourceError("x", true),
    new TrackingError("x", false),
    new TrackingError("x", true),
    new PublishError("x"),
    new UnpublishableRowError("x"),
    new LockError("x"),
    new NatsSetupError("x"),
    new NatsAuthError("x"),
    new TlsFileError("x"),
    new FencedError("x"),
    new ShutdownError("x"),
    new CycleError("x", result, new TrackingError("checkpoint failed", true, { cause })),
  ];
  for (const err of errors) {
    t.ok(err.code in ERROR_CODES, `${err.name}'s code ${err.code} is listed`);
    t.equal(ERROR_CODES[err.code], err.name, `${err.code} belongs to ${err.name}`);
  }
  t.same(
    errors.map((e) => e.code),
    Object.keys(ERROR_CODES),
    "each listed code is used",
  );
});

t.test("CycleError keeps its own code; the cause keeps its own", async (t) => {
  const cause = new TrackingError("checkpoint failed", true);
  const err = new CycleError(
    "cycle failed",
    { rows: 3, read: 3, full: false, watermark: null, seconds: 1, duplicates: 0, recovered: 0, deadLettered: 0, retries: 0 },
    cause,
  );
  t.equal(err.code, "E_CYCLE");
  t.equal((err.cause as PublisherError).code, "E_TRACKING_TRANSIENT");
});
