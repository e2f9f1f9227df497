/** Renders the configuration schema as the Markdown reference embedded in README.md. */
import type { Field, SectionField } from "./schema";
import { schema } from "./schema";

function typeOf(field: Exclude<Field, SectionField>): string {
  switch (field.kind) {
    case "string":
      return field.oneOf ? field.oneOf.join(" \\| ") : "string";
    case "number":
      return `${field.integer ? "integer" : "number"}${field.min !== undefined ? ` ≥ ${field.min}` : field.above !== undefined ? ` > ${field.above}` : ""}${field.max !== undefined ? `, ≤ ${field.max}` : ""}`;
    case "boolean":
      return "boolean";
    case "list":
      return "list of strings";
  }
}

function defaultOf(field: Exclude<Field, SectionField>): string {
  if (field.default === undefined) return "required";
  if (Array.isArray(field.default)) return `\`${field.default.join(", ")}\``;
  if (field.default === "") return '`""`';
  return `\`${String(field.default)}\``;
}

export function renderReference(section: SectionField = schema, prefix = ""): string {
  const out: string[] = [];
  const leaves = Object.entries(section.fields).filter(([, f]) => f.kind !== "section") as [string, Exclude<Field, SectionField>][];
  if (leaves.length > 0) {
    out.push("| key | type | default | unit | env | description |", "|---|---|---|---|---|---|");
    for (const [key, f] of leaves) {
      out.push(
        `| \`${prefix}${key}\` | ${typeOf(f)} | ${defaultOf(f)} | ${f.kind === "number" ? (f.unit ?? "") : ""} | ${f.env ? `\`${f.env}\`` : ""} | ${f.description.replace(/\|/g, "\\|")} |`,
      );
    }
    out.push("");
  }
  for (const [key, f] of Object.entries(section.fields)) {
    if (f.kind !== "section") continue;
    out.push(`#### \`${prefix}${key}\``, "", f.description, "");
    out.push(renderReference(f, `${prefix}${key}.`));
  }
  return out.join("\n");
}
