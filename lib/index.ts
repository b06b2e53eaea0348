/**
 * cdk8s-patterns: cdk8s constructs for five deployment patterns, built on
 * cdk8s-plus-28. This entry is the public API; anything not exported here is
 * internal. The validation gate lives in the `cdk8s-patterns/testing` entry.
 *
 * @packageDocumentation
 */

// the five patterns
export * from './static-site';
export * from './immutable-config-init';
export * from './sidecar-pod';
export * from './general-purpose-runner';
export * from './kv-proxy';

// building blocks the patterns share
export * from './expose';
export * from './files';
export * from './image';
export * from './images';
// the pattern modules re-export these pins under the same names; one source
export { BUSYBOX_IMAGE, GIT_SYNC_IMAGE } from './images';
export * from './validate';
export * from './hash';
export * from './security';
export * from './labels';
