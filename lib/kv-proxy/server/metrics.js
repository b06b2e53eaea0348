// @ts-check
'use strict';
/**
 * A minimal Prometheus registry: counters, gauges (set or collected on
 * scrape) and histograms, rendered in the text exposition format 0.0.4.
 */

/** @param {string} v */
function escapeLabel(v) {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * @param {string[]} names
 * @param {string[]} values
 */
function labelText(names, values) {
  if (names.length === 0) return '';
  return `{${names.map((n, i) => `${n}="${escapeLabel(values[i])}"`).join(',')}}`;
}

class Metric {
  /**
   * @param {string} name
   * @param {string} help
   * @param {'counter' | 'gauge' | 'histogram'} type
   * @param {string[]} labelNames
   */
  constructor(name, help, type, labelNames) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.labelNames = labelNames;
    /** @type {Map<string, { values: string[], value: number }>} */
    this.series = new Map();
  }

  /** @param {Record<string, string | number>} labels */
  valuesOf(labels) {
    return this.labelNames.map((n) => String(labels[n] ?? ''));
  }

  /** @param {Record<string, string | number>} labels */
  entry(labels) {
    const values = this.valuesOf(labels);
    const key = values.join('\u0000');
    let e = this.series.get(key);
    if (!e) {
      e = { values, value: 0 };
      this.series.set(key, e);
    }
    return e;
  }

  /** @returns {string[]} */
  render() {
    return [...this.series.values()].map((e) => `${this.name}${labelText(this.labelNames, e.values)} ${e.value}`);
  }
}

class Counter extends Metric {
  /** @param {Record<string, string | number>} [labels] @param {number} [by] */
  inc(labels = {}, by = 1) {
    this.entry(labels).value += by;
  }

  /** @param {Record<string, string | number>} [labels] */
  get(labels = {}) {
    return this.entry(labels).value;
  }

  /**
   * The series of these labels, to count into without looking it up again
   * (`series.value += 1`): for the per-request hot path.
   * @param {Record<string, string | number>} labels
   */
  seriesFor(labels) {
    return this.entry(labels);
  }
}

class Gauge extends Metric {
  /**
   * @param {string} name
   * @param {string} help
   * @param {string[]} labelNames
   * @param {(() => { labels?: Record<string, string | number>, value: number }[]) | undefined} collect
   */
  constructor(name, help, labelNames, collect) {
    super(name, help, 'gauge', labelNames);
    this.collect = collect;
  }

  /** @param {Record<string, string | number>} labels @param {number} value */
  set(labels, value) {
    this.entry(labels).value = value;
  }

  /** @param {Record<string, string | number>} [labels] @param {number} [by] */
  inc(labels = {}, by = 1) {
    this.entry(labels).value += by;
  }

  /** @param {Record<string, string | number>} [labels] */
  dec(labels = {}) {
    this.entry(labels).value -= 1;
  }

  render() {
    if (this.collect) {
      for (const s of this.collect()) this.set(s.labels || {}, s.value);
    }
    return super.render();
  }
}

class Histogram extends Metric {
  /**
   * @param {string} name
   * @param {string} help
   * @param {string[]} labelNames
   * @param {number[]} buckets upper bounds, ascending
   */
  constructor(name, help, labelNames, buckets) {
    super(name, help, 'histogram', labelNames);
    this.buckets = buckets;
    /** @type {Map<string, { values: string[], counts: number[], sum: number, count: number }>} */
    this.hist = new Map();
  }

  /** @param {Record<string, string | number>} labels @param {number} value */
  observe(labels, value) {
    this.observeSeries(this.seriesFor(labels), value);
  }

  /**
   * The series of these labels, for observeSeries (the per-request hot path).
   * @param {Record<string, string | number>} labels
   */
  seriesFor(labels) {
    const values = this.valuesOf(labels);
    const key = values.join('\u0000');
    let h = this.hist.get(key);
    if (!h) {
      h = { values, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.hist.set(key, h);
    }
    return h;
  }

  /**
   * @param {{ counts: number[], sum: number, count: number }} h a series from seriesFor()
   * @param {number} value
   */
  observeSeries(h, value) {
    const buckets = this.buckets;
    for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]) h.counts[i] += 1;
    h.sum += value;
    h.count += 1;
  }

  render() {
    /** @type {string[]} */
    const lines = [];
    for (const h of this.hist.values()) {
      const names = [...this.labelNames, 'le'];
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket${labelText(names, [...h.values, String(b)])} ${h.counts[i]}`));
      lines.push(`${this.name}_bucket${labelText(names, [...h.values, '+Inf'])} ${h.count}`);
      lines.push(`${this.name}_sum${labelText(this.labelNames, h.values)} ${h.sum}`);
      lines.push(`${this.name}_count${labelText(this.labelNames, h.values)} ${h.count}`);
    }
    return lines;
  }
}

class Registry {
  constructor() {
    /** @type {Metric[]} */
    this.metrics = [];
  }

  /** @param {string} name @param {string} help @param {string[]} [labelNames] */
  counter(name, help, labelNames = []) {
    const m = new Counter(name, help, 'counter', labelNames);
    this.metrics.push(m);
    return m;
  }

  /**
   * @param {string} name
   * @param {string} help
   * @param {string[]} [labelNames]
   * @param {() => { labels?: Record<string, string | number>, value: number }[]} [collect] called on every scrape
   */
  gauge(name, help, labelNames = [], collect = undefined) {
    const m = new Gauge(name, help, labelNames, collect);
    this.metrics.push(m);
    return m;
  }

  /** @param {string} name @param {string} help @param {string[]} labelNames @param {number[]} buckets */
  histogram(name, help, labelNames, buckets) {
    const m = new Histogram(name, help, labelNames, buckets);
    this.metrics.push(m);
    return m;
  }

  render() {
    /** @type {string[]} */
    const out = [];
    for (const m of this.metrics) {
      out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.render());
    }
    return `${out.join('\n')}\n`;
  }
}

/**
 * The metrics kv-proxy exposes on /metrics.
 */
function createMetrics() {
  const registry = new Registry();
  return {
    registry,
    httpRequests: registry.counter('kv_proxy_http_requests_total', 'HTTP requests served, by route template, method and status code.', [
      'route',
      'method',
      'code',
    ]),
    httpDuration: registry.histogram(
      'kv_proxy_http_request_duration_seconds',
      'HTTP request latency, by route template (blocking reads include their wait).',
      ['route'],
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    ),
    upstreamRequests: registry.counter(
      'kv_proxy_upstream_requests_total',
      'Requests to the Kubernetes API, by verb, resource and status code (0 = no response).',
      ['verb', 'resource', 'code'],
    ),
    upstreamErrors: registry.counter('kv_proxy_upstream_errors_total', 'Failed Kubernetes API requests, by verb, resource and reason.', [
      'verb',
      'resource',
      'reason',
    ]),
    watchRestarts: registry.counter('kv_proxy_watch_restarts_total', 'Watch streams restarted, by resource and reason (closed, error, expired).', [
      'resource',
      'reason',
    ]),
    relists: registry.counter('kv_proxy_relists_total', 'Full lists of a watched collection, by resource.', ['resource']),
    watchEvents: registry.counter('kv_proxy_watch_events_total', 'Watch events received, by resource and type.', ['resource', 'type']),
    tokenReloads: registry.counter('kv_proxy_token_reloads_total', 'Times the client token files were (re)loaded.'),
    /** @type {Gauge} set by the cache module via collect */
    cacheObjects: registry.gauge('kv_proxy_cache_objects', 'Objects held in the watch-fed cache, by resource.', ['resource']),
    blockingReads: registry.gauge('kv_proxy_blocking_reads_in_flight', 'Blocking reads currently waiting for a change.'),
    ready: registry.gauge('kv_proxy_ready', '1 when every watched collection has been listed and the server is not shutting down.'),
    stale: registry.gauge('kv_proxy_cache_stale', '1 while at least one watch is down and reads may be stale.'),
    memory: registry.gauge(
      'kv_proxy_memory_bytes',
      'Process memory by kind: rss, heap_total, heap_used, external (Buffers: cached ConfigMap bodies).',
      ['kind'],
      () => {
        const m = process.memoryUsage();
        return [
          { labels: { kind: 'rss' }, value: m.rss },
          { labels: { kind: 'heap_total' }, value: m.heapTotal },
          { labels: { kind: 'heap_used' }, value: m.heapUsed },
          { labels: { kind: 'external' }, value: m.external },
        ];
      },
    ),
  };
}

/** @typedef {ReturnType<typeof createMetrics>} Metrics */

module.exports = { Registry, createMetrics };
