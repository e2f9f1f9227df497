/** The command line: subcommands, options, help, usage errors. */
import t from "tap";
import { DEFAULT_CONFIG, exitCodeOf, helpText, parseArgs, SUBCOMMANDS, UsageError } from "../../src/cli/args";
import { ConfigError, SourceError } from "../../src/errors";

t.test("run is the default command, with the options the service always had", async (t) => {
  t.same(parseArgs([]), { command: "run", config: DEFAULT_CONFIG, once: false, dryRun: false, limit: 10, count: false });
  t.same(parseArgs(["--config", "c.yaml", "--once"]), { command: "run", config: "c.yaml", once: true, dryRun: false, limit: 10, count: false });
  t.same(parseArgs(["run", "--config=c.yaml"]), { command: "run", config: "c.yaml", once: false, dryRun: false, limit: 10, count: false });
  t.same(parseArgs(["--config", "F", "--once", "--dry-run"]), { command: "run", config: "F", once: true, dryRun: true, limit: 10, count: false });
  t.same(
    parseArgs(["--dry-run", "--limit", "3"]),
    { command: "run", config: DEFAULT_CONFIG, once: true, dryRun: true, limit: 3, count: false },
    "--dry-run implies --once",
  );
  t.same(parseArgs(["--dry-run", "--count"]), { command: "run", config: DEFAULT_CONFIG, once: true, dryRun: true, limit: 10, count: true });
});

t.test("parses status, check and rewind", async (t) => {
  t.same(parseArgs(["status", "--config", "F"]), { command: "status", config: "F", json: false });
  t.same(parseArgs(["status", "--json", "--config", "F"]), { command: "status", config: "F", json: true });
  t.same(parseArgs(["check", "--config", "F"]), { command: "check", config: "F" });
  t.same(parseArgs(["rewind", "--config", "F", "--to", "earliest"]), { command: "rewind", config: "F", to: "earliest", yes: false });
  t.same(parseArgs(["rewind", "--to=2026-01-31T00:00:00+09:00", "--yes"]), {
    command: "rewind",
    config: DEFAULT_CONFIG,
    to: "2026-01-31T00:00:00+09:00",
    yes: true,
  });
  t.same(parseArgs(["rewind", "--to", "2026-01-31 12:00:00.5"]).command, "rewind");
});

t.test("--help for the whole and for each command", async (t) => {
  t.same(parseArgs(["--help"]), { command: "help", topic: null });
  t.same(parseArgs(["-h"]), { command: "help", topic: null });
  t.same(parseArgs(["help"]), { command: "help", topic: null });
  t.same(parseArgs(["--once", "--help"]), { command: "help", topic: null });
  for (const c of SUBCOMMANDS) {
    t.same(parseArgs([c, "--help"]), { command: "help", topic: c });
    t.same(parseArgs(["help", c]), { command: "help", topic: c });
  }
  t.same(parseArgs(["rewind", "--help"]), { command: "help", topic: "rewind" }, "--help wins over a missing --to");
});

t.test("the whole help names every command and every option", async (t) => {
  const all = helpText(null);
  for (const c of SUBCOMMANDS) t.match(all, new RegExp(`^  ${c} `, "m"), `lists ${c}`);
  for (const option of ["--config FILE", "--once", "--dry-run", "--limit N", "--count", "--json", "--to WHEN", "--yes", "--help"]) t.match(all, option);
  t.match(all, /node dist\/main\.js status \[--config FILE\] \[--json\]/);
  t.match(all, /node dist\/main\.js rewind \[--config FILE\] --to <ISO timestamp \| earliest> \[--yes\]/);
  t.match(all, /Exit codes: 0 done, 1 failed/);
  const rewind = helpText("rewind");
  t.match(rewind, /^usage: node dist\/main\.js rewind /);
  t.match(rewind, /--yes/);
  t.notMatch(rewind, /--json/, "one command's help shows its own options only");
});

t.test("unknown or malformed arguments are usage errors that quote the usage (exit 2)", async (t) => {
  const usage = (argv: string[], pattern: RegExp) => {
    try {
      parseArgs(argv);
      t.fail(`accepted ${argv.join(" ")}`);
    } catch (err) {
      t.type(err, UsageError);
      t.equal((err as UsageError).code, "E_USAGE");
      t.equal(exitCodeOf(err), 2);
      t.match((err as Error).message, pattern, argv.join(" "));
    }
  };
  usage(["--bogus"], /^unknown argument "--bogus"; usage: node dist\/main\.js \[--config FILE\] \[--once\]/);
  usage(["frobnicate"], /^unknown command "frobnicate"/);
  usage(["status", "--once"], /^unknown argument "--once"; usage: node dist\/main\.js status \[--config FILE\] \[--json\]$/);
  usage(["check", "--json"], /unknown argument "--json"/);
  usage(["--config"], /^--config needs a value/);
  usage(["--config", "--once"], /^--config needs a value/);
  usage(["--once=yes"], /--once takes no value/);
  usage(["--limit", "5"], /--limit needs --dry-run/);
  usage(["--count"], /--count needs --dry-run/);
  usage(["--dry-run", "--limit", "0"], /--limit must be a positive integer \(got "0"\)/);
  usage(["--dry-run", "--limit", "ten"], /--limit must be a positive integer/);
  usage(["rewind"], /^rewind needs --to <ISO timestamp \| earliest>; usage: node dist\/main\.js rewind/);
  usage(["rewind", "--to", "yesterday"], /--to must be an ISO-8601 timestamp .* \(got "yesterday"\)/);
  usage(["help", "nope"], /unknown command "nope"/);
});

t.test("exit codes: 2 for usage and configuration errors, 1 for everything else", async (t) => {
  t.equal(exitCodeOf(new ConfigError("bad")), 2);
  t.equal(exitCodeOf(new SourceError("down", true)), 1);
  t.equal(exitCodeOf(new Error("x")), 1);
  t.equal(exitCodeOf(null), 1);
});
