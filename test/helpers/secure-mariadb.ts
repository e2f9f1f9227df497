/**
 * A private MariaDB server that requires TLS, for the mariadb.ssl tests: a data directory of
 * its own (mariadb-install-db), a free port, the test's certificates, `require_secure_transport`.
 * Stopped by PID only; the shared MariaDB on 3306 is never touched.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as mariadb from "mariadb";
import type { Certs } from "./secure-nats";
import { freePort } from "./secure-nats";

export interface PrivateMariadb {
  port: number;
  /** A root connection over TLS (root has no password on this private server). */
  connect(): Promise<mariadb.Connection>;
  stop(): Promise<void>;
}

export const MARIADBD = "/usr/sbin/mariadbd";
export const INSTALL_DB = "/usr/bin/mariadb-install-db";
export const mariadbAvailable = existsSync(MARIADBD) && existsSync(INSTALL_DB);

export async function startTlsMariadb(dir: string, certs: Certs): Promise<PrivateMariadb> {
  const data = join(dir, "data");
  mkdirSync(dir, { recursive: true });
  const install = spawnSync(INSTALL_DB, ["--no-defaults", `--datadir=${data}`, "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db"], {
    encoding: "utf8",
  });
  if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr.slice(-2000)}`);
  const port = await freePort();
  const child = spawn(
    MARIADBD,
    [
      "--no-defaults",
      `--datadir=${data}`,
      "--user=root",
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      `--socket=${join(dir, "mariadb.sock")}`,
      `--pid-file=${join(dir, "mariadb.pid")}`,
      "--skip-log-bin",
      "--innodb-buffer-pool-size=16M",
      `--ssl-ca=${certs.ca}`,
      `--ssl-cert=${certs.serverCert}`,
      `--ssl-key=${certs.serverKey}`,
      "--require-secure-transport=ON",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr?.on("data", (d: Buffer) => {
    log += d.toString();
  });
  const reap = () => child.exitCode === null && child.kill("SIGKILL");
  process.once("exit", reap);
  const tls = { ca: readFileSync(certs.ca, "utf8"), rejectUnauthorized: true };
  const connect = (database?: string) =>
    mariadb.createConnection({ host: "127.0.0.1", port, user: "root", ...(database ? { database } : {}), ssl: tls, connectTimeout: 5000 });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (/ready for connections/.test(log)) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      reap();
      throw new Error(`private mariadbd did not start: ${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const conn = await connect();
  await conn.query("CREATE DATABASE IF NOT EXISTS test");
  await conn.end();
  return {
    port,
    connect: () => connect("test"),
    async stop() {
      if (child.exitCode === null && child.pid) {
        const exited = new Promise((r) => child.once("exit", r));
        process.kill(child.pid, "SIGTERM");
        await exited;
      }
      process.removeListener("exit", reap);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
