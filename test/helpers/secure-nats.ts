/**
 * Private nats-servers with TLS, NKey or JWT (operator mode) authentication, for the security
 * tests: certificates are made with openssl, keys and JWTs with @nats-io/nkeys and
 * @nats-io/jwt, all in a temp dir of the test. Each server runs on a free port of its own and
 * is stopped by PID only.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds, type KeyPair } from "@nats-io/jwt";
import { freePort, portOpen } from "./services";

export { freePort };

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface SecureNats {
  port: number;
  /** `nats://127.0.0.1:<port>` */
  url: string;
  dir: string;
  stop(): Promise<void>;
}

/**
 * Starts `/usr/sbin/nats-server` with `body` (the config without `listen`), JetStream in a
 * store of its own. Resolves once the port accepts connections.
 */
export async function startNatsWith(body: string): Promise<SecureNats> {
  const dir = tempDir("onp-secnats-");
  const port = await freePort();
  const conf = join(dir, "nats.conf");
  writeFileSync(conf, `listen: 127.0.0.1:${port}\njetstream { store_dir: "${dir}/js" }\n${body}\n`);
  const child = spawn("/usr/sbin/nats-server", ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (d: Buffer) => {
    log += d.toString();
  });
  const reap = () => child.exitCode === null && child.kill("SIGKILL");
  process.once("exit", reap);
  const deadline = Date.now() + 30_000;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      reap();
      throw new Error(`private nats-server on ${port} did not start: ${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    dir,
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

export interface Certs {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here: trusting it must fail verification. */
  otherCa: string;
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with openssl. */
export function makeCerts(dir: string): Certs {
  const ossl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const p = (f: string) => join(dir, f);
  ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=onp-test-ca");
  ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
  writeFileSync(p("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  ossl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "server.ext",
  );
  ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=onp-publisher");
  writeFileSync(p("client.ext"), "extendedKeyUsage=clientAuth\n");
  ossl(
    "x509",
    "-req",
    "-in",
    "client.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "client.pem",
    "-days",
    "2",
    "-extfile",
    "client.ext",
  );
  ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=onp-other-ca");
  return {
    dir,
    ca: p("ca.pem"),
    serverCert: p("server.pem"),
    serverKey: p("server.key"),
    clientCert: p("client.pem"),
    clientKey: p("client.key"),
    otherCa: p("other.pem"),
  };
}

/** nats-server `tls {}` block requiring client certificates signed by the test CA. */
export function tlsBlock(c: Certs): string {
  return `tls { cert_file: "${c.serverCert}", key_file: "${c.serverKey}", ca_file: "${c.ca}", verify: true, timeout: 5 }`;
}

export interface Operator {
  /** nats-server config lines: operator, system account, resolver MEMORY with the account JWTs preloaded. */
  serverConfig: string;
  /** A .creds file's content for a user of the publisher's account. */
  userCreds(): Promise<Uint8Array>;
  /** A .creds file's content for a user of an account this server does not know. */
  strangerCreds(): Promise<Uint8Array>;
}

const UNLIMITED = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };

/** Operator, system account and one JetStream-enabled account, signed with fresh NKeys. */
export async function makeOperator(dir: string): Promise<Operator> {
  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const operatorJwt = await encodeOperator("onp-test", operator, { system_account: system.getPublicKey() });
  const systemJwt = await encodeAccount("SYS", system, { limits: UNLIMITED }, { signer: operator });
  const accountJwt = await encodeAccount(
    "PUBLISHER",
    account,
    { limits: { ...UNLIMITED, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } },
    { signer: operator },
  );
  const operatorFile = join(dir, "operator.jwt");
  writeFileSync(operatorFile, operatorJwt);
  const credsFor = async (issuer: KeyPair): Promise<Uint8Array> => {
    const user = createUser();
    return fmtCreds(await encodeUser("publisher", user, issuer), user);
  };
  return {
    serverConfig: [
      `operator: "${operatorFile}"`,
      `system_account: ${system.getPublicKey()}`,
      "resolver: MEMORY",
      "resolver_preload: {",
      `  ${system.getPublicKey()}: "${systemJwt}"`,
      `  ${account.getPublicKey()}: "${accountJwt}"`,
      "}",
    ].join("\n"),
    userCreds: () => credsFor(account),
    strangerCreds: () => credsFor(createAccount()),
  };
}
