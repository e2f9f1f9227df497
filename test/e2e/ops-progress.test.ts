/**
 * `--once` on a terminal draws a progress line on stderr (rows done of the rows counted up to the
 * bound, rows/s, ETA); off a terminal it draws nothing. The terminal is a pseudo-terminal made by
 * util-linux `script`, so the real binary sees a TTY.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import t from "tap";
import { sampleRows } from "../../scripts/lib/txlog-table";
import { MAIN, runCli } from "../helpers/cli";
import { fixture } from "../helpers/fixture";

function onTerminal(args: string[]): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, MAIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  // stdout goes to /dev/null inside the terminal: what remains on it is stderr.
  const child = spawn("script", ["-qefc", `${command} >/dev/null`, "/dev/null"], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => {
    output += d.toString();
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, output })));
}

t.test(
  "--once over a backlog: a progress line on a TTY, none elsewhere",
  { skip: !existsSync("/usr/bin/script") && "util-linux script is not installed" },
  async (t) => {
    const f = await fixture(t);
    await f.insert(sampleRows(300));
    const config = f.configFile({ publisher: { max_records_per_run: 200 } });
    const tty = await onTerminal(["--once", "--config", config]);
    t.equal(tty.code, 0, tty.output);
    t.match(
      tty.output,
      /\r200 of 200 rows \(100\.0%\) {2}[\d,]+ rows\/s {2}ETA 0:00/,
      "the final state: the total is the count bounded by max_records_per_run",
    );
    t.equal((await f.messages()).length, 200);

    const plain = await runCli(["--once", "--config", config]);
    t.equal(plain.code, 0, plain.stderr);
    t.equal(plain.stderr, "", "no progress line off a terminal");
    t.equal((await f.messages()).length, 300);
  },
);
