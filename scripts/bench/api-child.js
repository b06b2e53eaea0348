// @ts-check
/**
 * Runs the test suite's Kubernetes API stand-in in its own process for the
 * benchmark, so it does not share an event loop with the load generator.
 * Controlled over IPC: { id, op, args } → { id, result | error }.
 */
'use strict';
const path = require('node:path');
const { FakeKubeApi } = require(path.join(__dirname, '..', '..', 'test', 'support', 'fake-kube-api.js'));

const api = new FakeKubeApi();
/** @type {Record<string, (...args: any[]) => any>} */
const ops = {
  start: async () => {
    await api.start(0, '127.0.0.1');
    return api.url;
  },
  setConfigMap: (ns, name, data, labels) => {
    api.setConfigMap(ns, name, data, labels);
    return true;
  },
  seedConfigMaps: (ns, count, keys, valueBytes) => {
    for (let i = 0; i < count; i++) {
      /** @type {Record<string, string>} */
      const data = {};
      for (let k = 0; k < keys; k++) data[`key-${k}`] = `${i}-${k}-`.padEnd(valueBytes, 'x');
      api.setConfigMap(ns, `cm-${String(i).padStart(4, '0')}`, data);
    }
    return count;
  },
  countCalls: () => api.countCalls({}),
  jsonBytes: (ns, name) => Buffer.byteLength(JSON.stringify(api.getObject('configmaps', ns, name)?.data ?? {})),
  setEventDelay: (ms) => {
    api.eventDelayMs = ms;
    return true;
  },
  dataKeys: (ns, name) => Object.keys(api.getObject('configmaps', ns, name)?.data ?? {}).length,
  pause: async () => {
    await api.stop();
    return true;
  },
  resume: async () => {
    await api.start();
    return true;
  },
  stop: async () => {
    await api.stop();
    setImmediate(() => process.disconnect());
    return true;
  },
};

process.on('message', async (/** @type {any} */ msg) => {
  try {
    const result = await ops[msg.op](...(msg.args ?? []));
    process.send?.({ id: msg.id, result });
  } catch (e) {
    process.send?.({ id: msg.id, error: String(/** @type {Error} */ (e).stack ?? e) });
  }
});
