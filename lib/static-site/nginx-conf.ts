/**
 * The nginx configuration a StaticSite ships in its config ConfigMap.
 *
 * The config is complete on its own: it does not include anything from the
 * image's /etc/nginx (not even mime.types, which differs between the Alpine
 * image and Debian's package), writes only below /tmp and /var/cache/nginx
 * (emptyDirs in the pod), logs to stdout/stderr and listens on an
 * unprivileged port, so nginx starts as uid 101 on a read-only root
 * filesystem with the image's entrypoint scripts bypassed.
 */

/**
 * Content types by file extension (lowercase, without the dot). nginx matches
 * extensions case-insensitively; anything not listed is served as
 * `application/octet-stream`.
 */
export const DEFAULT_CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  html: 'text/html',
  htm: 'text/html',
  css: 'text/css',
  js: 'text/javascript',
  mjs: 'text/javascript',
  cjs: 'text/javascript',
  json: 'application/json',
  map: 'application/json',
  webmanifest: 'application/manifest+json',
  xml: 'application/xml',
  rss: 'application/rss+xml',
  atom: 'application/atom+xml',
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/x-icon',
  bmp: 'image/bmp',
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  otf: 'font/otf',
  eot: 'application/vnd.ms-fontobject',
  wasm: 'application/wasm',
  pdf: 'application/pdf',
  zip: 'application/zip',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
});

/** What nginx sends for extensions it does not know. */
export const FALLBACK_CONTENT_TYPE = 'application/octet-stream';

/**
 * Textual types: served with `charset=utf-8` (ConfigMap data is UTF-8 by
 * definition). text/html always is, and listing it makes nginx warn.
 */
const CHARSET_TYPES = [
  'text/css',
  'text/plain',
  'text/xml',
  'text/javascript',
  'text/markdown',
  'text/csv',
  'application/json',
  'application/manifest+json',
  'application/xml',
  'application/rss+xml',
  'application/atom+xml',
  'application/yaml',
  'image/svg+xml',
];

/**
 * Types worth compressing. text/html is always compressed by nginx and must
 * not be listed (it warns about a duplicate); already-compressed formats
 * (PNG, JPEG, WOFF2, ...) are left alone.
 */
const GZIP_TYPES = [
  'text/css',
  'text/plain',
  'text/xml',
  'text/javascript',
  'text/markdown',
  'text/csv',
  'application/json',
  'application/manifest+json',
  'application/xml',
  'application/rss+xml',
  'application/atom+xml',
  'application/yaml',
  'image/svg+xml',
  'image/x-icon',
  'image/bmp',
  'font/ttf',
  'font/otf',
  'application/vnd.ms-fontobject',
  'application/wasm',
];

/** Inputs for {@link renderNginxConf}; the StaticSite construct resolves and validates them. */
export interface NginxConfOptions {
  /** TCP port to listen on (all IPv4 addresses). */
  readonly port: number;
  /** Directory the content volume is mounted at. */
  readonly root: string;
  /** Absolute path of the generated mime.types file. */
  readonly mimeTypesPath: string;
  /** File served for directory requests, e.g. `index.html`. */
  readonly indexDocument: string;
  /** Content path (no leading '/') of the custom 404 page, if any. */
  readonly notFoundDocument?: string;
  /** Serve the index document for every path that is not a file or directory. */
  readonly spaFallback: boolean;
  /** Compress textual responses. */
  readonly gzip: boolean;
  /** Cache-Control for text/html responses ('' sends none). */
  readonly htmlCacheControl: string;
  /** Cache-Control for every other successful response ('' sends none). */
  readonly assetCacheControl: string;
  /** Headers added to every response, including errors. */
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** Exact path answered with 200 "ok" for probes. */
  readonly healthPath: string;
  /** Whether to write an access log line per request to stdout. */
  readonly accessLog: boolean;
}

/** Where nginx writes its pid file: the /tmp emptyDir. */
export const NGINX_PID_PATH = '/tmp/nginx.pid';
/** Where nginx buffers request bodies and upstream responses: the /var/cache/nginx emptyDir (also the image's compiled-in default). */
export const NGINX_TEMP_DIR = '/var/cache/nginx';

/** A double-quoted nginx string; callers have already refused `$` and control characters. */
export function nginxString(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * Renders `types { ... }` for nginx: one line per content type, extensions
 * sorted, so the file is stable and easy to review.
 */
export function renderMimeTypes(types: Readonly<Record<string, string>>): string {
  const byType = new Map<string, string[]>();
  for (const ext of Object.keys(types).sort()) {
    const t = types[ext];
    byType.set(t, [...(byType.get(t) ?? []), ext]);
  }
  const lines = [...byType.keys()].sort().map((t) => `  ${t} ${byType.get(t)!.join(' ')};`);
  return ['# Generated by the StaticSite construct: content types by file extension.', 'types {', ...lines, '}', ''].join('\n');
}

/** Renders the complete nginx.conf. */
export function renderNginxConf(o: NginxConfOptions): string {
  const index = `/${o.indexDocument}`;
  const lines: string[] = [
    '# Generated by the StaticSite construct (cdk8s); change the construct props, not this file.',
    "# Self-contained: nothing from the image's /etc/nginx is included. nginx runs as a non-root",
    `# user on a read-only root filesystem and writes only to /tmp (pid) and ${NGINX_TEMP_DIR} (temp files).`,
    'worker_processes 1;',
    `pid ${NGINX_PID_PATH};`,
    'error_log stderr warn;',
    '',
    'events {',
    '  worker_connections 1024;',
    '}',
    '',
    'http {',
    `  include ${o.mimeTypesPath};`,
    `  default_type ${FALLBACK_CONTENT_TYPE};`,
    '  charset utf-8;',
    `  charset_types ${CHARSET_TYPES.join(' ')};`,
    '',
    `  client_body_temp_path ${NGINX_TEMP_DIR}/client_temp;`,
    `  proxy_temp_path ${NGINX_TEMP_DIR}/proxy_temp;`,
    `  fastcgi_temp_path ${NGINX_TEMP_DIR}/fastcgi_temp;`,
    `  uwsgi_temp_path ${NGINX_TEMP_DIR}/uwsgi_temp;`,
    `  scgi_temp_path ${NGINX_TEMP_DIR}/scgi_temp;`,
    '',
    o.accessLog ? '  access_log /dev/stdout combined;' : '  access_log off;',
    '  server_tokens off;',
    '  sendfile on;',
    '  tcp_nopush on;',
    '  keepalive_timeout 65s;',
    '  client_max_body_size 1k;',
    '  # Redirects (e.g. /docs -> /docs/) carry a relative Location, so they work behind a Service or Ingress on another port.',
    '  absolute_redirect off;',
  ];
  if (o.gzip) {
    lines.push(
      '',
      '  gzip on;',
      '  gzip_vary on;',
      '  gzip_proxied any;',
      '  gzip_min_length 256;',
      '  gzip_comp_level 5;',
      `  gzip_types ${GZIP_TYPES.join(' ')};`,
    );
  }
  lines.push(
    '',
    '  # Cache-Control by the type of what is sent: HTML revalidates, other assets may be cached.',
    '  map $sent_http_content_type $static_site_cache_control {',
    `    default ${nginxString(o.assetCacheControl)};`,
    `    ~^text/html ${nginxString(o.htmlCacheControl)};`,
    '  }',
    '',
    '  server {',
    `    listen ${o.port};`,
    '    server_name _;',
    `    root ${o.root};`,
    `    index ${o.indexDocument};`,
    '',
    '    add_header Cache-Control $static_site_cache_control;',
  );
  for (const name of Object.keys(o.responseHeaders).sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()))) {
    lines.push(`    add_header ${name} ${nginxString(o.responseHeaders[name])} always;`);
  }
  if (o.notFoundDocument !== undefined) {
    lines.push('', `    error_page 404 /${o.notFoundDocument};`);
  }
  lines.push(
    '',
    '    # Probes. An add_header here replaces the server-level headers for this location only.',
    `    location = ${o.healthPath} {`,
    '      access_log off;',
    '      default_type text/plain;',
    '      add_header Cache-Control "no-store" always;',
    '      return 200 "ok\\n";',
    '    }',
    '',
    '    # The kubelet keeps ConfigMap volume bookkeeping in ..data and ..<timestamp>: never serve it.',
    '    location ^~ /.. {',
    '      return 404;',
    '    }',
  );
  if (o.notFoundDocument !== undefined) {
    lines.push('', '    # The 404 page is only served as an error page.', `    location = /${o.notFoundDocument} {`, '      internal;', '    }');
  }
  lines.push(
    '',
    '    location / {',
    o.spaFallback
      ? `      # Single-page app: every path that is not a file or directory gets ${index}.\n      try_files $uri $uri/ ${index};`
      : '      try_files $uri $uri/ =404;',
    '    }',
    '  }',
    '}',
    '',
  );
  return lines.join('\n');
}
