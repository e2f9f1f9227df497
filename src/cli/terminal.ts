/** The terminal side of the commands: where lines go, whether a question can be asked, asking it. */
import { createInterface } from "node:readline/promises";
import type { Output } from "./ports";

interface Writable {
  write(text: string): boolean;
}

/** Lines to stdout and stderr (a newline appended to each). */
export function lineOutput(stdout: Writable, stderr: Writable): Output {
  return { out: (line) => void stdout.write(`${line}\n`), err: (line) => void stderr.write(`${line}\n`) };
}

/** A question can be asked only when both the input and the output are a terminal. */
export function isInteractive(input: { isTTY?: boolean }, output: { isTTY?: boolean }): boolean {
  return input.isTTY === true && output.isTTY === true;
}

/** Asks `question`; true only for y or yes (any case). End of input counts as no. */
export async function confirm(question: string, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<boolean> {
  const rl = createInterface({ input, output, terminal: false });
  try {
    const closed = new Promise<string>((resolve) => rl.once("close", () => resolve("")));
    const answer = await Promise.race([rl.question(question), closed]);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
