/**
 * Reads config/config.yaml, applies the environment overrides, validates the result against
 * the schema and returns a typed Config. This is the only module that reads process.env.
 * Every problem is reported at once, each naming its key (or env variable, or YAML line),
 * and secret values are never echoed.
 */
import { readFileSync } from "node:fs";
import { load as parseYaml } from "js-yaml";
import { ConfigError } from "../errors";
import { type Config, type Field, type SectionField, schema, type ValueOf } from "./schema";
import { resolveEnvFiles } from "./secrets";

type Env = Record<string, string | undefined>;
type Plain = Record<string, unknown>;

export function loadConfig(path: string, env: Env = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "file not found" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : String(code ?? err);
    throw new ConfigError(`cannot read config file ${path}: ${why}`, { cause: err });
  }
  return parseConfig(text, path, env);
}

export function parseConfig(text: string, path: string, env: Env = {}): Config {
  let raw: unknown;
  try {
    raw = text.trim() === "" ? {} : parseYaml(text, { filename: path });
  } catch (err) {
    const mark = (err as { mark?: { line: number; column: number } }).mark;
    const reason = (err as { reason?: string }).reason ?? (err as Error).message;
    const where = mark ? `${path}:${mark.line + 1}:${mark.column + 1}` : path;
    throw new ConfigError(`invalid YAML in ${where}: ${reason}`, { cause: err });
  }
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(`${path}: the top level must be a mapping of sections (oracle_db, mariadb, nats, ...)`);
  }
  const problems: string[] = [];
  const root = raw as Plain;
  // `VAR_FILE` (Docker/Kubernetes secrets) becomes `VAR` before the overrides apply.
  applyEnv(schema, root, resolveEnvFiles(schema, env, problems), problems);
  const config = validated(schema, validateSection(schema, root, "", root, true, problems));
  if (problems.length === 0) derive(config);
  if (problems.length > 0) {
    throw new ConfigError(`${path}: ${problems.length === 1 ? problems[0] : `\n  - ${problems.join("\n  - ")}`}`);
  }
  return config;
}

/**
 * The tree `validateSection` built from `section`, typed by the schema: every key of it was
 * checked against its field (kind, oneOf, bounds), absent ones got their defaults, so the
 * tree has the shape `ValueOf<section>` derives. (Only read once `problems` is empty.)
 */
function validated<S extends SectionField>(_section: S, tree: Plain): ValueOf<S> {
  return tree as ValueOf<S>;
}

/** Values that follow from others, filled in after validation. */
function derive(config: Config): void {
  const events = config.intime_txlog_events;
  if (events.dead_letter_subject === "") events.dead_letter_subject = `${events.subject}.dlq`;
  if (config.source.kind === "mariadb" && config.source.mariadb === undefined) {
    const { host, port, user, password, database, ssl } = config.mariadb;
    config.source.mariadb = { host, port, user, password, database, ...(ssl ? { ssl } : {}) };
  }
}

/** Environment variables win over the file; they are written into the raw tree before validation. */
function applyEnv(section: SectionField, raw: Plain, env: Env, problems: string[], at = ""): void {
  for (const [key, field] of Object.entries(section.fields)) {
    if (field.kind === "section") {
      const envKeys = Object.values(field.fields).filter((f) => f.kind !== "section" && f.env !== undefined && env[f.env] !== undefined);
      if (raw[key] === undefined && envKeys.length > 0) raw[key] = {};
      const child = raw[key];
      if (child !== null && typeof child === "object" && !Array.isArray(child)) applyEnv(field, child as Plain, env, problems, `${at}${key}.`);
      continue;
    }
    const value = field.env === undefined ? undefined : env[field.env];
    if (value === undefined) continue;
    if (field.kind === "number") {
      const n = value.trim() === "" ? Number.NaN : Number(value);
      if (Number.isNaN(n))
        problems.push(`${field.env} (environment, for ${at}${key}): must be a number${field.secret ? "" : ` (got ${JSON.stringify(value)})`}`);
      else raw[key] = n;
    } else if (field.kind === "list") {
      raw[key] = value
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
    } else if (field.kind === "boolean") {
      raw[key] = value === "true" || value === "1";
    } else {
      raw[key] = value;
    }
  }
}

function validateSection(section: SectionField, raw: Plain, at: string, root: Plain, required: boolean, problems: string[]): Plain {
  const out: Plain = {};
  for (const key of Object.keys(raw)) {
    if (!(key in section.fields)) {
      const known = Object.keys(section.fields).join(", ");
      problems.push(`${at}${key}: unknown key${at === "" ? " (sections are" : ` (keys of ${at.slice(0, -1)} are`}: ${known})`);
    }
  }
  for (const [key, field] of Object.entries(section.fields)) {
    const path = `${at}${key}`;
    const value = field.kind !== "section" && field.normalize && raw[key] !== undefined && raw[key] !== null ? field.normalize(raw[key]) : raw[key];
    if (field.kind === "section") {
      const mustExist = field.requiredWhen?.(root) ?? false;
      if (value === undefined || value === null) {
        if (mustExist) problems.push(`${path}: section is required here (${field.description})`);
        else if (field.optional || field.requiredWhen) out[key] = undefined;
        else out[key] = validateSection(field, {}, `${path}.`, root, required, problems);
        continue;
      }
      if (typeof value !== "object" || Array.isArray(value)) {
        problems.push(`${path}: must be a mapping of keys (${Object.keys(field.fields).join(", ")})`);
        continue;
      }
      out[key] = validateSection(field, value as Plain, `${path}.`, root, mustExist || (required && !field.requiredWhen), problems);
      continue;
    }
    if (value === undefined || value === null) {
      if (field.default !== undefined) out[key] = Array.isArray(field.default) ? [...field.default] : field.default;
      else if (required) problems.push(`${path}: required${field.env ? ` (or set ${field.env})` : ""}: ${field.description}`);
      continue;
    }
    const problem = checkValue(field, value);
    if (problem) {
      const shown = field.secret ? "" : ` (got ${JSON.stringify(value)})`;
      problems.push(`${path}: ${problem}${shown}`);
    } else {
      out[key] = field.kind === "list" ? (typeof value === "string" ? value.split(",").map((s) => s.trim()) : value) : value;
    }
  }
  return out;
}

/** A sentence saying what is wrong with the value, or undefined when it is fine. */
function checkValue(field: Exclude<Field, SectionField>, value: unknown): string | undefined {
  switch (field.kind) {
    case "string": {
      if (typeof value !== "string") return "must be a string";
      if (value === "" && !field.allowEmpty) return "must not be empty";
      if (field.oneOf && !field.oneOf.includes(value)) return `must be one of ${field.oneOf.join(", ")}`;
      if (field.pattern && value !== "" && !field.pattern.test(value)) return `must be ${field.pattern.hint}`;
      return undefined;
    }
    case "number": {
      if (typeof value !== "number" || !Number.isFinite(value)) return "must be a number";
      if (field.integer && !Number.isInteger(value)) return "must be a whole number";
      if (field.min !== undefined && value < field.min) return `must be at least ${field.min}`;
      if (field.above !== undefined && value <= field.above) return `must be greater than ${field.above}`;
      if (field.max !== undefined && value > field.max) return `must be at most ${field.max}`;
      return undefined;
    }
    case "boolean":
      return typeof value === "boolean" ? undefined : "must be true or false";
    case "list": {
      const items = typeof value === "string" ? [value] : value;
      if (!Array.isArray(items) || items.length === 0 || items.some((s) => typeof s !== "string" || s === "")) return "must be a non-empty list of strings";
      return undefined;
    }
  }
}
