/**
 * deploy/Dockerfile, checked without a Docker engine (none runs here): parsed with
 * dockerfile-ast, linted with dockerfile-utils, and held to what the README promises.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { validate } from "dockerfile-utils";
import t from "tap";

const root = join(__dirname, "../..");
const text = readFileSync(join(root, "deploy/Dockerfile"), "utf8");
const dockerfile = DockerfileParser.parse(text);

/** ARG defaults declared before the first FROM, for `FROM ${NODE_IMAGE}`. */
function resolveImage(image: string): string {
  const name = /^\$\{?(\w+)\}?$/.exec(image)?.[1];
  if (!name) return image;
  const arg = dockerfile.getInitialARGs().find((a) => a.getProperty()?.getName() === name);
  return arg?.getProperty()?.getValue() ?? image;
}

interface Stage {
  name: string | null;
  image: string;
  instructions: Instruction[];
}

/** The instructions of each stage, in order. */
function stages(): Stage[] {
  const out: Stage[] = [];
  for (const ins of dockerfile.getInstructions()) {
    if (ins.getKeyword() === "FROM") {
      const from = dockerfile.getFROMs().find((f) => f.getRange().start.line === ins.getRange().start.line);
      out.push({ name: from?.getBuildStage() ?? null, image: resolveImage(from?.getImage() ?? ""), instructions: [] });
    } else out.at(-1)?.instructions.push(ins);
  }
  return out;
}

const all = stages();
const final = all.at(-1) as Stage;
const of = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.getKeyword() === keyword);
const lines = text.split("\n");
/** The instruction's text after its keyword, flags included, continuation lines joined. */
function args(i: Instruction): string {
  const { start, end } = i.getRange();
  const raw = lines.slice(start.line, end.line + 1);
  raw[raw.length - 1] = (raw.at(-1) as string).slice(0, end.character);
  raw[0] = (raw[0] as string).slice(start.character);
  return raw
    .join("\n")
    .replace(/\\\n/g, " ")
    .replace(/^\S+\s+/, "")
    .replace(/\s+/g, " ")
    .trim();
}
/** `["a", "b"]` -> [a, b] for the exec form. */
const execForm = (i: Instruction) => JSON.parse(args(i).replace(/^(--\S+\s+)+/, "")) as string[];

t.test("the linter finds nothing to report", async (t) => {
  const problems = validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
  t.same(problems, []);
});

t.test("multi-stage: a build stage with npm ci and tsc, a runtime stage that copies only the results", async (t) => {
  t.ok(all.length >= 2, `${all.length} stages`);
  const build = all.find((s) => s.name === "build");
  t.ok(build, "a stage named build");
  const buildRuns = of(build as Stage, "RUN")
    .map(args)
    .join("\n");
  t.match(buildRuns, /npm ci/);
  t.match(buildRuns, /tsc -p tsconfig\.json/);
  t.equal(of(final, "RUN").length, 0, "the runtime stage runs no installer or compiler");
  const copies = of(final, "COPY").map(args);
  t.ok(
    copies.some((c) => /--from=build\b.*\/app\/dist/.test(c)),
    "dist/ comes from the build stage",
  );
  t.ok(
    copies.some((c) => /--from=deps\b.*node_modules/.test(c)),
    "node_modules from the production-dependencies stage",
  );
  const deps = all.find((s) => s.name === "deps");
  t.match(
    of(deps as Stage, "RUN")
      .map(args)
      .join("\n"),
    /npm ci --omit=dev/,
    "production dependencies only",
  );
});

t.test("every stage is on a current LTS Node image, slim", async (t) => {
  for (const s of all) {
    const m = /^node:(\d+)-[a-z]+-slim$/.exec(s.image);
    t.ok(m, `${s.image} is node:<major>-<debian>-slim`);
    const major = Number(m?.[1]);
    t.ok(major >= 22 && major % 2 === 0, `Node ${major} is an even (LTS) line still supported`);
  }
});

t.test("the runtime runs as the non-root node user, with TZ=UTC", async (t) => {
  const users = of(final, "USER").map(args);
  t.ok(users.length > 0, "a USER instruction in the runtime stage");
  const user = users.at(-1) as string;
  t.notMatch(user, /^(root|0)(:|$)/, `runs as ${user}`);
  t.equal(user, "node", "the official image's uid 1000 user");
  t.match(of(final, "ENV").map(args).join("\n"), /TZ=UTC/, "timestamps read in UTC");
});

t.test("CMD runs node dist/main.js with the mounted config; SIGTERM stops it", async (t) => {
  const cmds = of(final, "CMD");
  t.equal(cmds.length, 1);
  const cmd = execForm(cmds[0] as Instruction);
  t.same(cmd.slice(0, 2), ["node", "dist/main.js"], "exec form: node is PID 1's child-free process and gets SIGTERM");
  t.same(cmd.slice(2), ["--config", "/etc/oracle-nats-publisher/config.yaml"]);
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { main: string };
  t.equal(pkg.main, "dist/main.js", "the same entry point as package.json");
  const tsconfig = readFileSync(join(root, "tsconfig.json"), "utf8");
  t.match(tsconfig, /"outDir": "dist"/, "tsc writes dist/");
  t.same(of(final, "STOPSIGNAL").map(args), ["SIGTERM"]);
});

t.test("HEALTHCHECK asks /healthz on the metrics port", async (t) => {
  const checks = dockerfile.getHEALTHCHECKs();
  t.equal(checks.length, 1);
  const hc = checks[0];
  t.ok(
    final.instructions.some((i) => i.getRange().start.line === hc?.getRange().start.line),
    "in the runtime stage",
  );
  t.equal(hc?.getSubcommand()?.getValue(), "CMD");
  const content = args(hc as Instruction);
  t.match(content, /http:\/\/127\.0\.0\.1:9464\/healthz/);
  t.match(content, /--interval=\d+s/);
  t.match(content, /--start-period=\d+s/);
  t.ok(of(final, "EXPOSE").map(args).includes("9464"), "the port is exposed");
});

t.test("every file the image copies from the context exists and passes the .dockerignore", async (t) => {
  const ignore = readFileSync(join(root, "deploy/Dockerfile.dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  t.equal(ignore[0], "**", "everything is excluded unless listed");
  const allowed = ignore.filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/\/\*\*$/, ""));
  for (const s of all) {
    for (const copy of of(s, "COPY")) {
      if (/--from=/.test(args(copy))) continue;
      const parts = args(copy)
        .split(/\s+/)
        .filter((p) => !p.startsWith("--"));
      for (const source of parts.slice(0, -1)) {
        t.ok(existsSync(join(root, source)), `${source} exists`);
        t.ok(allowed.includes(source.replace(/\/$/, "")), `${source} is in the build context`);
      }
    }
  }
});
