/** Confirmation on a terminal, and where lines go. */
import { PassThrough } from "node:stream";
import t from "tap";
import { confirm, isInteractive, lineOutput } from "../../src/cli/terminal";

async function ask(answer: string | null): Promise<{ result: boolean; asked: string }> {
  const input = new PassThrough();
  const output = new PassThrough();
  let asked = "";
  output.on("data", (c: Buffer) => (asked += c.toString()));
  const pending = confirm("Move the watermark? [y/N] ", input, output);
  if (answer === null) input.end();
  else input.write(`${answer}\n`);
  return { result: await pending, asked };
}

t.test("only y or yes confirms", async (t) => {
  t.same(await ask("y"), { result: true, asked: "Move the watermark? [y/N] " });
  t.equal((await ask("YES")).result, true);
  t.equal((await ask(" yes ")).result, true);
  t.equal((await ask("")).result, false, "enter alone is no");
  t.equal((await ask("n")).result, false);
  t.equal((await ask("yep")).result, false);
  t.equal((await ask(null)).result, false, "end of input is no");
});

t.test("interactive only when input and output are terminals", async (t) => {
  t.equal(isInteractive({ isTTY: true }, { isTTY: true }), true);
  t.equal(isInteractive({ isTTY: true }, {}), false);
  t.equal(isInteractive({}, { isTTY: true }), false);
});

t.test("lines go to their stream with a newline", async (t) => {
  const out: string[] = [];
  const err: string[] = [];
  const o = lineOutput({ write: (s) => out.push(s) > 0 }, { write: (s) => err.push(s) > 0 });
  o.out("a");
  o.err("b");
  t.same(out, ["a\n"]);
  t.same(err, ["b\n"]);
});
