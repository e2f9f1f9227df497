import t from "tap";
import { describeError, SourceError } from "../src/errors";

t.test("describeError gives one line: the message, then only causes that add something", async (t) => {
  const driver = Object.assign(new Error("NJS-503: connection to host db port 1521\ncould not be established"), { code: "NJS-503" });
  const quoted = new SourceError(`Oracle page query failed: ${driver.message.replace("\n", " ")}`, true, { cause: driver });
  t.equal(describeError(quoted), "Oracle page query failed: NJS-503: connection to host db port 1521 could not be established");
  const wrapped = new Error("cycle failed", { cause: Object.assign(new Error("socket closed"), { code: "ECONNRESET" }) });
  t.equal(describeError(wrapped), "cycle failed: caused by: ECONNRESET: socket closed");
  t.equal(describeError("plain"), "plain");
  t.notMatch(describeError(quoted), /\n/);
});
