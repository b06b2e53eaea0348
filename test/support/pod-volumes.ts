/**
 * What the kubelet does to a synthesized pod before its containers start,
 * done on this host: who the containers run as, and the volumes laid out on
 * disk the way the kubelet lays them out. Used by ./pod-sandbox.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { K8sObject, podSpecOf } from '../../lib/testing/gate';

/** Where the kubelet mounts the ServiceAccount token, CA and namespace. */
export const SERVICE_ACCOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The name the kubelet's atomic writer gives the one data directory here (`..data` points at it). */
export const ATOMIC_WRITER_DIR = '..2026_01_01_00_00_00.000000001';

/** The pod spec of a workload (Pod, Deployment, Job, CronJob, ...). */
export function podSpec(workload: K8sObject): any {
  const p = podSpecOf(workload);
  if (!p?.spec) throw new Error(`${workload.kind}/${workload.metadata.name} has no pod template`);
  return p.spec;
}

/** The mount of `volume` in a manifest container (exactly one). */
export function mountOf(container: any, volume: string): any {
  const hits = (container.volumeMounts ?? []).filter((m: any) => m.name === volume);
  if (hits.length !== 1) throw new Error(`container "${container.name}" mounts volume "${volume}" ${hits.length} times`);
  return hits[0];
}

/** The user a container runs as. */
export interface Identity {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups: the primary group, the pod's fsGroup and supplementalGroups. */
  readonly groups: number[];
}

/** runAsUser/runAsGroup (container over pod), with fsGroup and supplementalGroups; non-root only. */
export function identityOf(spec: any, container: any): Identity {
  const psc = spec.securityContext ?? {};
  const sc = container.securityContext ?? {};
  const uid = sc.runAsUser ?? psc.runAsUser;
  const gid = sc.runAsGroup ?? psc.runAsGroup;
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid === 0 || gid === 0) {
    throw new Error(`container "${container.name}" has no explicit non-root runAsUser/runAsGroup, got ${uid}/${gid}`);
  }
  const groups = [...new Set<number>([gid, ...(psc.fsGroup !== undefined ? [psc.fsGroup] : []), ...(psc.supplementalGroups ?? [])])];
  return { uid, gid, groups };
}

/** One file of a ConfigMap, Secret or ServiceAccount volume. */
export interface ProjectedFile {
  readonly path: string;
  readonly bytes: Buffer;
  readonly mode: number;
}

/**
 * Writes a projected volume the way the kubelet's atomic writer does: the
 * files below `..<timestamp>/`, `..data` pointing there and one symlink per
 * top-level name into `..data`; root-owned, group-owned by fsGroup if any.
 */
export function writeProjectedVolume(dir: string, files: ProjectedFile[], fsGroup?: number): void {
  const group = fsGroup ?? 0;
  const data = path.join(dir, ATOMIC_WRITER_DIR);
  fs.mkdirSync(data, { recursive: true });
  for (const f of files) {
    const file = path.join(data, f.path);
    for (let d = path.dirname(file); d !== dir; d = path.dirname(d)) {
      fs.mkdirSync(d, { recursive: true });
      fs.chownSync(d, 0, group);
      fs.chmodSync(d, 0o755);
    }
    fs.writeFileSync(file, f.bytes);
    fs.chownSync(file, 0, group);
    fs.chmodSync(file, f.mode);
  }
  fs.symlinkSync(ATOMIC_WRITER_DIR, path.join(dir, '..data'));
  for (const top of [...new Set(files.map((f) => f.path.split('/')[0]))].sort()) fs.symlinkSync(`..data/${top}`, path.join(dir, top));
  fs.chownSync(dir, 0, group);
  fs.chmodSync(dir, 0o755);
}

/** The one object of `kind` named `name`, in the workload's namespace when the name alone is ambiguous. */
function referenced(objects: K8sObject[], workload: K8sObject, kind: string, name: string): K8sObject {
  let hits = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (hits.length > 1) hits = hits.filter((o) => o.metadata.namespace === workload.metadata.namespace);
  if (hits.length !== 1)
    throw new Error(`${workload.kind}/${workload.metadata.name} refers to ${kind} "${name}", found ${hits.length} in the synthesized set`);
  return hits[0];
}

/** The bytes of each ConfigMap key (data and binaryData). */
export function configMapData(cm: K8sObject): Map<string, Buffer> {
  const content = new Map<string, Buffer>();
  for (const [k, v] of Object.entries<string>(cm.data ?? {})) content.set(k, Buffer.from(v, 'utf8'));
  for (const [k, v] of Object.entries<string>(cm.binaryData ?? {})) content.set(k, Buffer.from(v, 'base64'));
  return content;
}

/** Stand-ins for what is not in the manifests. */
export interface VolumeContent {
  /** Secret name -> key -> value, for Secret volumes and secretKeyRef env (the out-of-band Secrets). */
  readonly secrets?: Record<string, Record<string, string>>;
  /** The ServiceAccount token files, mounted only when the pod automounts a token. */
  readonly serviceAccount?: { 'token': string; 'ca.crt': string; 'namespace': string };
}

/**
 * Creates the host directory for volume `name` of the pod: emptyDirs
 * world-writable (with fsGroup: group-owned by it, setgid), ConfigMap and
 * Secret volumes projected (items, defaultMode, `..data`). The special name
 * SERVICE_ACCOUNT_PATH stands for the ServiceAccount token volume.
 */
export function materializeVolume(dir: string, objects: K8sObject[], workload: K8sObject, name: string, content: VolumeContent = {}): void {
  const spec = podSpec(workload);
  const fsGroup: number | undefined = spec.securityContext?.fsGroup;
  fs.mkdirSync(dir, { recursive: true });
  if (name === SERVICE_ACCOUNT_PATH) {
    if (!content.serviceAccount) throw new Error('the pod automounts a ServiceAccount token: pass serviceAccount files');
    writeProjectedVolume(
      dir,
      Object.entries(content.serviceAccount).map(([p, v]) => ({ path: p, bytes: Buffer.from(v), mode: 0o644 })),
      fsGroup,
    );
    return;
  }
  const vol = (spec.volumes ?? []).find((v: any) => v.name === name);
  if (!vol) throw new Error(`${workload.kind}/${workload.metadata.name} has no volume "${name}"`);
  const project = (data: Map<string, Buffer>, source: any, what: string) => {
    const items: Array<{ key: string; path: string; mode?: number }> = source.items ?? [...data.keys()].map((key) => ({ key, path: key }));
    writeProjectedVolume(
      dir,
      items.map((i) => {
        const bytes = data.get(i.key);
        if (!bytes) throw new Error(`${what} has no key "${i.key}" (volume "${name}")`);
        return { path: i.path, bytes, mode: i.mode ?? source.defaultMode ?? 0o644 };
      }),
      fsGroup,
    );
  };
  if (vol.emptyDir) {
    if (vol.emptyDir.medium) throw new Error(`emptyDir medium "${vol.emptyDir.medium}" of volume "${name}" is not emulated`);
    fs.chownSync(dir, 0, fsGroup ?? 0);
    fs.chmodSync(dir, fsGroup !== undefined ? 0o2777 : 0o777);
  } else if (vol.configMap) {
    project(configMapData(referenced(objects, workload, 'ConfigMap', vol.configMap.name)), vol.configMap, `ConfigMap ${vol.configMap.name}`);
  } else if (vol.secret) {
    const data = content.secrets?.[vol.secret.secretName];
    if (!data) throw new Error(`the test provides no stand-in for Secret ${vol.secret.secretName}`);
    project(new Map(Object.entries(data).map(([k, v]) => [k, Buffer.from(v)])), vol.secret, `Secret ${vol.secret.secretName}`);
  } else {
    throw new Error(`volume "${name}" has a type the sandbox does not emulate: ${Object.keys(vol).join(', ')}`);
  }
}

/**
 * A container's environment as the runtime builds it: `base` (image and
 * kubelet), then the manifest's env (value, configMapKeyRef, secretKeyRef).
 */
export function manifestEnv(
  objects: K8sObject[],
  workload: K8sObject,
  container: any,
  base: Record<string, string>,
  content: VolumeContent = {},
): Record<string, string> {
  const env = { ...base };
  for (const e of container.env ?? []) {
    const cmRef = e.valueFrom?.configMapKeyRef;
    const secretRef = e.valueFrom?.secretKeyRef;
    if (e.value !== undefined) {
      env[e.name] = e.value;
    } else if (cmRef) {
      const v = referenced(objects, workload, 'ConfigMap', cmRef.name).data?.[cmRef.key];
      if (v === undefined) throw new Error(`env ${e.name}: ConfigMap "${cmRef.name}" has no key "${cmRef.key}"`);
      env[e.name] = v;
    } else if (secretRef) {
      const v = content.secrets?.[secretRef.name]?.[secretRef.key];
      if (v === undefined) throw new Error(`env ${e.name}: pass secrets["${secretRef.name}"]["${secretRef.key}"]`);
      env[e.name] = v;
    } else {
      throw new Error(`env ${e.name}: this valueFrom is not emulated`);
    }
  }
  return env;
}
