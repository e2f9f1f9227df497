/**
 * The name patterns the service accepts, in one place: the config schema validates with them
 * and the adapters check again before a name is inlined into SQL (values are always bound).
 */

/**
 * Longest unquoted identifier part per database: Oracle 12.2 and later allow 128 bytes
 * (30 before 12.2), MariaDB 64 characters. The config accepts the longest; each adapter
 * checks its own database's limit.
 */
export const IDENTIFIER_MAX_LENGTH = { oracle: 128, mariadb: 64 } as const;

/** One identifier part: a letter, then letters, digits, `_`, `$` or `#`. */
const IDENTIFIER_PART = /^[A-Za-z][A-Za-z0-9_$#]*$/;

/** `NAME` (one part) of at most `maxLength` characters. */
export function isIdentifier(name: string, maxLength: number = IDENTIFIER_MAX_LENGTH.oracle): boolean {
  return name.length <= maxLength && IDENTIFIER_PART.test(name);
}

/** `NAME` or `SCHEMA.NAME`, each part an identifier of at most `maxLength` characters. */
export function isTableName(name: string, maxLength: number = IDENTIFIER_MAX_LENGTH.oracle): boolean {
  const parts = name.split(".");
  return parts.length <= 2 && parts.every((part) => isIdentifier(part, maxLength));
}

/** A NATS subject to publish to: dot-separated tokens, no spaces and no wildcards (`*`, `>`). */
export function isNatsSubject(subject: string): boolean {
  return /^[^\s*>.]+(\.[^\s*>.]+)*$/.test(subject);
}

/** A JetStream stream name: no spaces, dots, wildcards or path separators. */
export function isStreamName(name: string): boolean {
  return /^[^\s.*>/\\]+$/.test(name);
}

/** A fixed UTC offset `+HH:MM` / `-HH:MM` (up to 14 hours). */
export const UTC_OFFSET = /^[+-](0\d|1[0-4]):[0-5]\d$/;

/** The zones the config accepts for naive timestamps: `UTC`, a fixed offset, or an IANA region. */
export function isTimeZone(zone: string): boolean {
  return zone === "UTC" || UTC_OFFSET.test(zone) || isRegion(zone);
}

/** An IANA region name this Node's time-zone data knows (Area/Location, e.g. America/New_York). */
export function isRegion(zone: string): boolean {
  if (!/^[A-Za-z]+(\/[A-Za-z0-9_+-]+){1,2}$/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
