/**
 * Which NATS failures are retried: every error class nats.js v3 exports, by class (not by its
 * `name`, which drifts: NoRespondersError's is "NoResponders"). Needs no server.
 */
import { JetStreamApiError } from "@nats-io/jetstream";
import { jserrors } from "@nats-io/jetstream/internal";
import {
  AuthorizationError,
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  InvalidArgumentError,
  InvalidOperationError,
  InvalidSubjectError,
  NoRespondersError,
  PermissionViolationError,
  RequestError,
  TimeoutError,
  UserAuthenticationExpiredError,
} from "@nats-io/transport-node";
import t from "tap";
import { isTransientNatsError, NatsSetupError } from "../../src/adapters/jetstream";

const apiError = () => new JetStreamApiError({ code: 400, err_code: 10059, description: "stream not found" });

const table: [string, unknown, boolean][] = [
  ["ConnectionError", new ConnectionError("connection refused"), true],
  ["TimeoutError", new TimeoutError(), true],
  ["NoRespondersError (name NoResponders)", new NoRespondersError("$JS.API.STREAM.INFO.X"), true],
  ["ClosedConnectionError", new ClosedConnectionError(), true],
  ["RequestError", new RequestError("request failed"), true],
  ["RequestError caused by a timeout", new RequestError("request failed", { cause: new TimeoutError() }), true],
  [
    "RequestError caused by a permissions violation",
    new RequestError("request failed", { cause: new PermissionViolationError("no", "publish", "$JS.API.STREAM.MSG.GET.X") }),
    false,
  ],
  ["a plain socket Error", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), true],
  ["a TypeError mentioning a timeout", new TypeError("socket timeout"), true],
  ["AuthorizationError", new AuthorizationError("Authorization Violation"), false],
  ["UserAuthenticationExpiredError", new UserAuthenticationExpiredError("User Authentication Expired"), false],
  ["PermissionViolationError", new PermissionViolationError("no", "publish", "a.b"), false],
  ["InvalidArgumentError", new InvalidArgumentError("bad option"), false],
  ["InvalidSubjectError", new InvalidSubjectError("a..b"), false],
  ["InvalidOperationError", new InvalidOperationError("closed"), false],
  ["DrainingConnectionError", new DrainingConnectionError(), false],
  ["JetStreamApiError", apiError(), false],
  ["JetStreamNotEnabled", new jserrors.JetStreamNotEnabled("jetstream is not enabled"), false],
  ["InvalidNameError", new jserrors.InvalidNameError("stream name"), false],
  ["a TypeError", new TypeError("x is not a function"), false],
  ["a string", "timeout", false],
  ["null", null, false],
];

t.test("classifies every error class the NATS client exports", async (t) => {
  for (const [what, err, transient] of table) t.equal(isTransientNatsError(err), transient, `${what} is ${transient ? "transient" : "permanent"}`);
});

t.test("the class, not the name, decides: a renamed class keeps its verdict", async (t) => {
  const e = new NoRespondersError("$JS.API.INFO");
  t.not(e.name, "NoRespondersError", "the client's name differs from its class name");
  t.equal(isTransientNatsError(e), true);
  const impostor = Object.assign(new TypeError("denied"), { name: "TimeoutError" });
  t.equal(isTransientNatsError(impostor), false, "a name alone does not make an error transient");
});

t.test("NatsSetupError carries its own code and its cause", async (t) => {
  const cause = new ConnectionError("refused");
  const err = new NatsSetupError("cannot connect to NATS at nats://127.0.0.1:1: refused", { cause });
  t.equal(err.code, "E_NATS");
  t.equal(err.cause, cause);
  t.equal(isTransientNatsError(err.cause), true);
});
