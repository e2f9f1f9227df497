/**
 * deploy/kubernetes: parsed with js-yaml and checked against each other and the schema:
 * probes on the metrics port's /healthz and /readyz, secrets mounted as files and named by
 * *_FILE variables the config loader knows, a grace period above shutdown_timeout, non-root.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import t from "tap";
import { parseConfig } from "../../src/config/load";
import { type NumberField, type SectionField, schema } from "../../src/config/schema";
import { envVariables } from "../../src/config/secrets";

type Obj = Record<string, unknown>;
const dir = join(__dirname, "../../deploy/kubernetes");
const yaml = (file: string) => load(readFileSync(join(dir, file), "utf8")) as Obj;
const deployment = yaml("deployment.yaml");
const configMap = yaml("configmap.yaml");
const secret = yaml("secret.example.yaml");

const at = (o: unknown, path: string): unknown => path.split(".").reduce<unknown>((v, k) => (v as Obj | undefined)?.[k], o);
const pod = at(deployment, "spec.template.spec") as Obj;
const container = (pod.containers as Obj[])[0] as Obj;
const ports = container.ports as Array<{ name: string; containerPort: number }>;
const portOf = (p: unknown) => (typeof p === "number" ? p : ports.find((x) => x.name === p)?.containerPort);
const configText = (configMap.data as Obj)["config.yaml"] as string;
const config = load(configText) as Obj;
const defaultShutdown = ((schema.fields.publisher as SectionField).fields.shutdown_timeout as NumberField).default as number;

t.test("a Deployment of 2 replicas whose selector matches its pods", async (t) => {
  t.equal(deployment.kind, "Deployment");
  t.equal(deployment.apiVersion, "apps/v1");
  t.equal(at(deployment, "spec.replicas"), 2, "one active, one standby (the MariaDB program lock admits one)");
  t.same(at(deployment, "spec.selector.matchLabels"), at(deployment, "spec.template.metadata.labels"));
});

t.test("liveness on /healthz, readiness on /readyz, both on the metrics port the config opens on 0.0.0.0", async (t) => {
  const metrics = config.metrics as { enabled: boolean; host: string; port: number };
  t.same(metrics, { enabled: true, host: "0.0.0.0", port: 9464 }, "the endpoint is on and reachable from the kubelet");
  for (const [probe, path] of [
    ["livenessProbe", "/healthz"],
    ["readinessProbe", "/readyz"],
    ["startupProbe", "/healthz"],
  ] as const) {
    t.equal(at(container, `${probe}.httpGet.path`), path, `${probe} path`);
    t.equal(portOf(at(container, `${probe}.httpGet.port`)), metrics.port, `${probe} port`);
  }
  const annotations = at(deployment, "spec.template.metadata.annotations") as Obj;
  t.equal(annotations["prometheus.io/port"], String(metrics.port));
  t.equal(annotations["prometheus.io/path"], "/metrics");
});

t.test("the grace period is above shutdown_timeout, the config's and the default", async (t) => {
  const grace = pod.terminationGracePeriodSeconds as number;
  const configured = (config.publisher as Obj | undefined)?.shutdown_timeout as number | undefined;
  t.ok(grace > defaultShutdown, `${grace} s > default ${defaultShutdown} s`);
  t.ok(grace > (configured ?? defaultShutdown), `${grace} s > configured ${configured} s`);
});

t.test("secrets are files from the Secret, named by *_FILE variables the loader reads", async (t) => {
  const volumes = pod.volumes as Obj[];
  const mounts = container.volumeMounts as Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  const secretVolume = volumes.find((v) => at(v, "secret.secretName") === at(secret, "metadata.name"));
  t.ok(secretVolume, "the Secret is a volume");
  const mount = mounts.find((m) => m.name === secretVolume?.name);
  t.ok(mount?.readOnly, "mounted read-only");
  const env = container.env as Array<{ name: string; value?: string; valueFrom?: unknown }>;
  const fileVars = env.filter((e) => e.name.endsWith("_FILE"));
  t.ok(fileVars.length >= 3, "Oracle, MariaDB and NATS passwords");
  const known = envVariables(schema, true);
  const keys = Object.keys(at(secret, "stringData") as Obj);
  for (const e of fileVars) {
    t.ok(known.includes(e.name.slice(0, -"_FILE".length)), `${e.name} names a secret variable of the schema`);
    t.equal(e.value?.slice(0, (mount?.mountPath.length ?? 0) + 1), `${mount?.mountPath}/`, `${e.name} points into the Secret's mount`);
    t.ok(keys.includes(e.value?.split("/").at(-1) ?? ""), `${e.name} names a key of the Secret`);
  }
  t.notOk(
    env.some((e) => /PASSWORD$|TOKEN$|SEED$/.test(e.name)),
    "no secret as a plain environment variable",
  );
  t.notMatch(configText, /password|token|nkey_seed/i, "no secret in the ConfigMap");
});

t.test("the ConfigMap's file is a valid config, mounted where the command line reads it", async (t) => {
  const raw = load(configText) as Obj;
  // The metrics section belongs to the metrics endpoint's schema; validate it only once the schema has it.
  if (!("metrics" in schema.fields)) delete raw.metrics;
  const { dump } = await import("js-yaml");
  const parsed = parseConfig(dump(raw), "configmap:config.yaml", {});
  t.equal(parsed.source.kind, "oracle");
  const args = container.args as string[];
  const configPath = args[args.indexOf("--config") + 1] as string;
  const mounts = container.volumeMounts as Array<{ name: string; mountPath: string }>;
  const configMount = mounts.find((m) => configPath.startsWith(`${m.mountPath}/`));
  t.ok(configMount, `${configPath} is on a mount`);
  const volume = (pod.volumes as Obj[]).find((v) => v.name === configMount?.name);
  t.equal(at(volume, "configMap.name"), at(configMap, "metadata.name"));
  t.ok(configText.length > 0 && configPath.endsWith("/config.yaml"), "the ConfigMap key is the file name");
  t.same(args.slice(0, 2), ["node", "dist/main.js"]);
});

t.test("the pod runs as non-root with a read-only root file system and no privilege escalation", async (t) => {
  t.equal(at(pod, "securityContext.runAsNonRoot"), true);
  t.not(at(pod, "securityContext.runAsUser"), 0);
  t.equal(at(container, "securityContext.readOnlyRootFilesystem"), true);
  t.equal(at(container, "securityContext.allowPrivilegeEscalation"), false);
  t.same(at(container, "securityContext.capabilities.drop"), ["ALL"]);
  t.equal(pod.automountServiceAccountToken, false);
});
