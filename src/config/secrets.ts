/**
 * The `<VAR>_FILE` convention (Docker and Kubernetes secrets): the environment variable of
 * every secret key may instead be given as a file, `ORACLE_PASSWORD_FILE=/run/secrets/oracle`,
 * whose content becomes the variable's value (one trailing newline stripped, as `echo` and
 * most editors add one). Only secrets: a non-secret value read from a file could be quoted in
 * a validation message, and some variables already name a file (`NATS_CREDS`).
 *
 * Precedence, highest first: `VAR` or `VAR_FILE` (setting both is an error), then the YAML.
 * Problems name the variable and the path, never the file's content.
 */
import { readFileSync } from "node:fs";
import type { SectionField } from "./schema";

type Env = Record<string, string | undefined>;

/** Suffix of the variable that names a file holding another variable's value. */
export const FILE_SUFFIX = "_FILE";

/** Every environment variable named by the schema (only those of secret keys with `secretOnly`), depth first. */
export function envVariables(section: SectionField, secretOnly = false): string[] {
  const out: string[] = [];
  for (const field of Object.values(section.fields)) {
    if (field.kind === "section") out.push(...envVariables(field, secretOnly));
    else if (field.env !== undefined && (field.secret || !secretOnly)) out.push(field.env);
  }
  return [...new Set(out)];
}

function readProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "file not found";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return String(code ?? "unreadable");
}

/**
 * Returns a copy of `env` in which each `VAR_FILE` of a secret key is replaced by `VAR`
 * holding the file's content. Problems are appended to `problems` (the caller reports them
 * with the rest of the configuration's).
 */
export function resolveEnvFiles(section: SectionField, env: Env, problems: string[]): Env {
  const out: Env = { ...env };
  for (const name of envVariables(section, true)) {
    const fileVar = `${name}${FILE_SUFFIX}`;
    const path = env[fileVar];
    if (path === undefined) continue;
    delete out[fileVar];
    if (env[name] !== undefined) {
      problems.push(`${name} and ${fileVar} are both set: set only one of them`);
      continue;
    }
    if (path.trim() === "") {
      problems.push(`${fileVar} is set but empty: it must name a file`);
      continue;
    }
    try {
      out[name] = readFileSync(path, "utf8").replace(/\r?\n$/, "");
    } catch (err) {
      // The error's own message is left out: it carries nothing the path does not, and a
      // message built from the content must never reach a log.
      problems.push(`${fileVar}: cannot read ${path}: ${readProblem(err)}`);
    }
  }
  return out;
}

/** Dotted paths of every secret key, e.g. `oracle_db.password`, `source.mariadb.password`. */
export function secretKeys(section: SectionField, at = ""): string[] {
  const out: string[] = [];
  for (const [key, field] of Object.entries(section.fields)) {
    if (field.kind === "section") out.push(...secretKeys(field, `${at}${key}.`));
    else if (field.secret) out.push(`${at}${key}`);
  }
  return out;
}

/**
 * pino redact paths for every secret key: the key's name at the top level and one or two
 * levels down (an object logged with a secret field), and its full path under `config`.
 */
export function redactPaths(section: SectionField): string[] {
  const keys = secretKeys(section);
  const names = [...new Set(keys.map((k) => k.slice(k.lastIndexOf(".") + 1)))];
  return [...names.flatMap((n) => [n, `*.${n}`, `*.*.${n}`]), ...keys.map((k) => `config.${k}`)];
}
