/**
 * What a pod's volumes hold after its workload ran, measured the way the
 * kubelet measures an emptyDir without filesystem quotas: `du`, the blocks
 * allocated to every file and directory under the volume (not their apparent
 * sizes), each hard-linked inode counted once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { K8sObject } from '../../lib/testing';
import { podSpec } from './pod-volumes';

/** Bytes allocated under `dir` (st_blocks x 512, directories included, hard links once, symlinks not followed). */
export function duBytes(dir: string, seen = new Set<string>()): number {
  const st = fs.lstatSync(dir);
  const key = `${st.dev}:${st.ino}`;
  if (seen.has(key)) return 0;
  seen.add(key);
  let total = st.blocks * 512;
  if (st.isDirectory()) {
    for (const e of fs.readdirSync(dir)) total += duBytes(path.join(dir, e), seen);
  }
  return total;
}

const BINARY_SUFFIXES: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** A Kubernetes quantity in bytes: binary suffixes (Ki, Mi, Gi, Ti) or plain bytes, as the patterns write them. */
export function quantityBytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti)?$/.exec(q);
  if (!m) throw new Error(`not a binary quantity: ${JSON.stringify(q)}`);
  return Number(m[1]) * (m[2] ? BINARY_SUFFIXES[m[2]] : 1);
}

/** The synthesized `emptyDir.sizeLimit` of a workload's volume, in bytes (throws if the volume is not a bounded emptyDir). */
export function emptyDirLimitBytes(workload: K8sObject, volume: string): number {
  const v = (podSpec(workload).volumes ?? []).find((x: any) => x.name === volume);
  if (!v?.emptyDir?.sizeLimit) throw new Error(`volume "${volume}" of ${workload.metadata.name} is not an emptyDir with a sizeLimit`);
  return quantityBytes(v.emptyDir.sizeLimit);
}

/** One emptyDir measured: its name, what it holds, its synthesized limit and the share of it used (in percent, 2 decimals). */
export interface VolumeUsage {
  readonly volume: string;
  readonly usedBytes: number;
  readonly limitBytes: number;
  readonly percent: number;
}

/** Measures each named emptyDir of `workload` in the sandbox directory `dirOf(name)`. */
export function emptyDirUsage(workload: K8sObject, volumes: string[], dirOf: (name: string) => string): VolumeUsage[] {
  return volumes.map((volume) => {
    const usedBytes = duBytes(dirOf(volume));
    const limitBytes = emptyDirLimitBytes(workload, volume);
    return { volume, usedBytes, limitBytes, percent: Math.round((usedBytes / limitBytes) * 10000) / 100 };
  });
}

/** Prints the measurement on the test's output (the figures docs/testing.md quotes). */
export function reportUsage(what: string, usage: VolumeUsage[]): void {
  console.log(`${what}: ${usage.map((u) => `${u.volume} ${u.usedBytes} B of ${u.limitBytes} B (${u.percent}%)`).join('; ')}`);
}
