/**
 * Reads the PEM files a TLS section names (`nats.tls`, `mariadb.ssl`, `source.mariadb.ssl`)
 * into the text the drivers take (node's `tls.connect` options `ca`, `cert`, `key`).
 * Read once, when the adapter is built, so a wrong path fails at start with the key and the
 * path, not later as a connection error that looks transient. Contents never reach a message.
 */
import { readFileSync } from "node:fs";
import { TlsFileError } from "../errors";

export { TlsFileError };

/** Paths as configured; an empty string means "not given". */
export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

/** PEM text, for node's TLS options. */
export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

function why(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "file not found";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return String(code ?? "unreadable");
}

/** `what` is the config key of the section, e.g. `nats.tls`; problems name `what.ca` etc. */
export function readTlsFiles(files: TlsFiles, what: string): TlsMaterial {
  const given = (k: keyof TlsFiles) => (files[k] ?? "") !== "";
  if (given("cert") !== given("key")) {
    throw new TlsFileError(`${what}: cert and key go together (a client certificate needs its private key): set both or neither`);
  }
  const out: TlsMaterial = {};
  for (const k of ["ca", "cert", "key"] as const) {
    const path = files[k];
    if (path === undefined || path === "") continue;
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new TlsFileError(`${what}.${k}: cannot read ${path}: ${why(err)}`, { cause: err });
    }
    if (!text.includes("-----BEGIN ")) throw new TlsFileError(`${what}.${k}: ${path} is not a PEM file (no -----BEGIN line)`);
    out[k] = text;
  }
  return out;
}

/**
 * The mariadb connector's `ssl` option for a configured `ssl` section: the PEM text, and the
 * server certificate always verified (the connector's default is not to). Read at each
 * connect, so a renewed certificate is picked up by the next connection.
 */
export function mariadbSsl(files: TlsFiles, what: string): TlsMaterial & { rejectUnauthorized: true } {
  return { ...readTlsFiles(files, what), rejectUnauthorized: true };
}
