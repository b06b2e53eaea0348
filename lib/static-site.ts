import * as fs from 'node:fs';
import * as path from 'node:path';
import { isUtf8 } from 'node:buffer';
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { IntOrString, KubeNetworkPolicy, KubePodDisruptionBudget } from './k8s';
import { addChecksumAnnotation, contentHash } from './hash';
import { validateImage } from './image';
import { applyLabels, recommendedLabels } from './labels';
import { DEFAULT_RESOURCES, hardenedContainer, hardenedPodProps } from './security';
import {
  configMapSize, formatBytes, isConfigMapKeyText, MAX_CONFIGMAP_BYTES, validateDnsLabel, validateDnsSubdomain, validatePort, validatePositiveInteger,
} from './validate';
import { DEFAULT_CONTENT_TYPES, FALLBACK_CONTENT_TYPE, renderMimeTypes, renderNginxConf } from './static-site/nginx-conf';
import { NGINX_UNPRIVILEGED_IMAGE } from './images';

export { DEFAULT_CONTENT_TYPES } from './static-site/nginx-conf';

/**
 * The default image: the official nginx build that runs as uid 101 without
 * root, on the stable 1.28 branch (what the seed's `nginx:stable-alpine`
 * floats to), pinned.
 */
export const STATIC_SITE_DEFAULT_IMAGE = NGINX_UNPRIVILEGED_IMAGE;
/** The uid and gid of the `nginx` user in the nginx-unprivileged images. */
export const STATIC_SITE_NGINX_UID = 101;
/** Where the content volume is mounted, nginx's `root`. */
export const STATIC_SITE_CONTENT_PATH = '/usr/share/nginx/html';
/** Where the generated nginx.conf and mime.types are mounted. */
export const STATIC_SITE_CONFIG_PATH = '/etc/nginx/static-site';

/** Path separator inside ConfigMap keys, which cannot contain '/': `css/site.css` becomes `css__site.css`. */
const KEY_SEPARATOR = '__';
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const EXTENSION = /^[a-z0-9][a-z0-9+_-]*$/;
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;
const HEALTH_PATH = /^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/;
/** Types whose files are always stored in `binaryData`; other files go there only when they are not UTF-8 text. */
const BINARY_TYPES = /^(image\/(?!svg\+xml$)|font\/|audio\/|video\/|application\/(wasm|pdf|zip|vnd\.ms-fontobject)$)/;
/**
 * kubectl (and Argo CD, which uses it) stores the whole object in the
 * `last-applied-configuration` annotation, which may hold at most 256 KiB.
 */
const LAST_APPLIED_LIMIT_BYTES = 256 * 1024;

/**
 * Options for the Ingress of a {@link StaticSite}.
 */
export interface StaticSiteIngressOptions {
  /**
   * Host name the Ingress answers for, e.g. `www.example.com` or `*.example.com`.
   * @default - every host
   */
  readonly host?: string;
  /**
   * Path prefix routed to the site. nginx sees the full path, so content for
   * a prefix other than `/` must live below that folder.
   * @default '/'
   */
  readonly path?: string;
  /**
   * `ingressClassName`.
   * @default - the cluster's default IngressClass
   */
  readonly className?: string;
  /**
   * Name of a `kubernetes.io/tls` Secret in the site's namespace, created out
   * of band (e.g. by cert-manager), that terminates TLS for `host`.
   * @default - no TLS
   */
  readonly tlsSecretName?: string;
}

/**
 * Options for the NetworkPolicy of a {@link StaticSite}.
 */
export interface StaticSiteNetworkPolicyOptions {
  /**
   * Namespaces (by name) whose pods may connect to the site's port. List the
   * ingress controller's namespace here when there is an Ingress.
   * @default - any source may connect to the site's port
   */
  readonly allowFromNamespaces?: string[];
}

/**
 * Props for {@link StaticSite}.
 */
export interface StaticSiteProps {
  /**
   * Base name of every object (Deployment, Service, ConfigMaps, ...): a DNS-1123 label.
   * @default 'static-site'
   */
  readonly name?: string;
  /**
   * A local directory whose files (recursively, nested folders included) are
   * served, read at synth time. Relative paths resolve from the working
   * directory; prefer `path.join(__dirname, ...)`.
   * @default - no directory; give `content`
   */
  readonly contentDir?: string;
  /**
   * Files by path (`index.html`, `css/site.css`): strings are UTF-8 text,
   * Buffers raw bytes (images, fonts). Paths must not repeat paths from `contentDir`.
   * @default - no inline files; give `contentDir`
   */
  readonly content?: Record<string, string | Buffer>;
  /**
   * The nginx image; it must provide `/usr/sbin/nginx`. The image's
   * entrypoint and its /etc/nginx are not used.
   * @default STATIC_SITE_DEFAULT_IMAGE (nginxinc/nginx-unprivileged:1.28.0-alpine)
   */
  readonly image?: string;
  /**
   * Container port nginx listens on: 1024-65535, because nginx runs without
   * NET_BIND_SERVICE.
   * @default 8080
   */
  readonly port?: number;
  /**
   * File served for `/` and for directory paths.
   * @default 'index.html'
   */
  readonly indexDocument?: string;
  /**
   * Content path of a page served with status 404 for missing files, e.g. `404.html`.
   * @default - nginx's built-in 404 page
   */
  readonly notFoundDocument?: string;
  /**
   * Single-page app: serve `/<indexDocument>` (status 200) for every path that
   * is not a file or directory, so client-side routes survive a reload.
   * @default false
   */
  readonly spaFallback?: boolean;
  /**
   * gzip textual responses (HTML, CSS, JS, JSON, SVG, ...) for clients that accept it.
   * @default true
   */
  readonly gzip?: boolean;
  /**
   * `Cache-Control` for HTML responses; '' sends none.
   * @default 'no-cache'
   */
  readonly htmlCacheControl?: string;
  /**
   * `Cache-Control` for every other successful response; '' sends none.
   * @default 'public, max-age=3600'
   */
  readonly assetCacheControl?: string;
  /**
   * Extra headers on every response (errors included), e.g. a
   * Content-Security-Policy. Values are literal: `$` is refused.
   * @default - only `X-Content-Type-Options: nosniff` (which these entries may override)
   */
  readonly responseHeaders?: Record<string, string>;
  /**
   * Content types by file extension (lowercase, without the dot), added to or
   * overriding the built-in table.
   * @default - DEFAULT_CONTENT_TYPES
   */
  readonly contentTypes?: Record<string, string>;
  /**
   * Log every request to stdout.
   * @default true
   */
  readonly accessLog?: boolean;
  /**
   * Path answered with 200 "ok" by nginx itself; the readiness and liveness probes use it.
   * @default '/healthz'
   */
  readonly healthPath?: string;
  /**
   * Pod replicas. With 2 or more the pods prefer different nodes and a
   * PodDisruptionBudget keeps all but one running during node drains.
   * @default 2
   */
  readonly replicas?: number;
  /**
   * CPU and memory requests and limits of the nginx container.
   * @default DEFAULT_RESOURCES (50m/64Mi requested, 500m/128Mi limit)
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Type of the Service.
   * @default kplus.ServiceType.CLUSTER_IP
   */
  readonly serviceType?: kplus.ServiceType;
  /**
   * Port of the Service (it targets the container port).
   * @default 80
   */
  readonly servicePort?: number;
  /**
   * Expose the Service through an Ingress.
   * @default - no Ingress
   */
  readonly ingress?: StaticSiteIngressOptions;
  /**
   * Add a NetworkPolicy: only the site's port is reachable, all egress is denied.
   * @default - no NetworkPolicy
   */
  readonly networkPolicy?: StaticSiteNetworkPolicyOptions;
  /**
   * Make the content ConfigMap immutable and name it after a hash of the
   * content (`<name>-content-<hash>`): a change creates a new ConfigMap and
   * rolls the Deployment to it. Old ConfigMaps are left for your GitOps
   * pruning to remove.
   * @default false - one mutable ConfigMap `<name>-content`; a content checksum annotation rolls the pods
   */
  readonly immutableContent?: boolean;
}

/**
 * One served file, as resolved at synth time.
 */
export interface StaticSiteFile {
  /** URL path below the site root, without the leading '/', e.g. `css/site.css`. */
  readonly path: string;
  /** The ConfigMap key holding it (keys cannot contain '/'). */
  readonly key: string;
  /** The Content-Type nginx sends for it (without the charset). */
  readonly contentType: string;
  /** True when stored in `binaryData` rather than `data`. */
  readonly binary: boolean;
  /** Size in bytes. */
  readonly sizeBytes: number;
}

interface CollectedFile { readonly path: string; readonly bytes: Buffer; readonly text: boolean; readonly origin: string }

/**
 * Serves static files with nginx from ConfigMaps: a hardened Deployment
 * (non-root uid 101, read-only root filesystem, nginx started with a
 * generated config instead of the image's entrypoint), a Service, a
 * PodDisruptionBudget, and optionally an Ingress and a NetworkPolicy.
 *
 * Content comes from a local directory (nested folders included), from
 * inline files, or both; changing any file changes a pod-template checksum,
 * so the Deployment rolls.
 */
export class StaticSite extends Construct {
  /** Base name of every object. */
  public readonly name: string;
  /** The nginx image. */
  public readonly image: string;
  /** Container port nginx listens on. */
  public readonly port: number;
  /** Service port. */
  public readonly servicePort: number;
  /** Pod replicas. */
  public readonly replicas: number;
  /** The index document. */
  public readonly indexDocument: string;
  /** The health location the probes call. */
  public readonly healthPath: string;
  /** Every served file, sorted by path. */
  public readonly files: readonly StaticSiteFile[];
  /** Bytes the content ConfigMap counts against the 1 MiB limit. */
  public readonly contentSizeBytes: number;
  /** The generated nginx.conf. */
  public readonly nginxConf: string;
  /** The ConfigMap holding the content. */
  public readonly configMap: kplus.ConfigMap;
  /** The ConfigMap holding nginx.conf and mime.types. */
  public readonly nginxConfigMap: kplus.ConfigMap;
  /** The nginx Deployment. */
  public readonly deployment: kplus.Deployment;
  /** The Service in front of the pods. */
  public readonly service: kplus.Service;
  /** The PodDisruptionBudget, when replicas >= 2. */
  public readonly podDisruptionBudget?: KubePodDisruptionBudget;
  /** The Ingress, when `ingress` is given. */
  public readonly ingress?: kplus.Ingress;
  /** The NetworkPolicy, when `networkPolicy` is given. */
  public readonly networkPolicy?: KubeNetworkPolicy;

  constructor(scope: Construct, id: string, props: StaticSiteProps = {}) {
    super(scope, id);

    // ---- resolve and validate the props
    this.name = validateDnsLabel(props.name ?? 'static-site', 'name');
    this.image = validateImage(props.image ?? STATIC_SITE_DEFAULT_IMAGE, 'image');
    this.port = props.port ?? 8080;
    if (!Number.isInteger(this.port) || this.port < 1024 || this.port > 65535) {
      throw new Error(`port must be an integer 1024-65535 (nginx runs without NET_BIND_SERVICE), got ${this.port}`);
    }
    this.servicePort = validatePort(props.servicePort ?? 80, 'servicePort');
    this.replicas = validatePositiveInteger(props.replicas ?? 2, 'replicas', 1, 1000);
    this.indexDocument = props.indexDocument ?? 'index.html';
    if (!isConfigMapKeyText(this.indexDocument) || this.indexDocument.startsWith('..')) {
      throw new Error(`indexDocument must be a file name (letters, digits, '-', '_' and '.', no '/'), got "${this.indexDocument}"`);
    }
    this.healthPath = props.healthPath ?? '/healthz';
    if (!HEALTH_PATH.test(this.healthPath) || this.healthPath.split('/').some((s) => s === '.' || s === '..')) {
      throw new Error(`healthPath must be an absolute URL path like "/healthz" (letters, digits, '-', '_', '.' and '~' between '/'), got "${this.healthPath}"`);
    }
    const htmlCacheControl = validateHeaderValue(props.htmlCacheControl ?? 'no-cache', 'htmlCacheControl');
    const assetCacheControl = validateHeaderValue(props.assetCacheControl ?? 'public, max-age=3600', 'assetCacheControl');
    const responseHeaders = resolveHeaders(props.responseHeaders ?? {});
    const contentTypes = resolveContentTypes(props.contentTypes ?? {});

    // ---- content: collect, map paths to keys, split text and binary
    const collected = collectContent(props.contentDir, props.content);
    if (collected.length === 0) {
      throw new Error('content must not be empty: give contentDir with at least one file, or content with at least one entry');
    }
    const keys = assignKeys(collected.map((f) => f.path));
    const data: Record<string, string> = {};
    const binaryData: Record<string, Buffer> = {};
    const files: StaticSiteFile[] = [];
    for (const f of collected) {
      const key = keys.get(f.path)!;
      const contentType = contentTypeOf(f.path, contentTypes);
      const binary = !f.text && (BINARY_TYPES.test(contentType) || f.bytes.includes(0) || !isUtf8(f.bytes));
      if (binary) binaryData[key] = f.bytes;
      else data[key] = f.bytes.toString('utf8');
      files.push({ path: f.path, key, contentType, binary, sizeBytes: f.bytes.length });
    }
    this.files = files;
    this.contentSizeBytes = configMapSize(data, binaryData);
    if (this.contentSizeBytes > MAX_CONFIGMAP_BYTES) {
      const largest = [...files].sort((a, b) => b.sizeBytes - a.sizeBytes || a.path.localeCompare(b.path)).slice(0, 3)
        .map((f) => `${f.path} ${formatBytes(f.sizeBytes)}`).join(', ');
      throw new Error(`content is ${formatBytes(this.contentSizeBytes)}, more than the ${formatBytes(MAX_CONFIGMAP_BYTES)} a ConfigMap can hold `
        + `(largest files: ${largest}): serve large assets (images, video, fonts) from object storage or a CDN, `
        + 'split the site, or build an image with the files baked in');
    }
    const paths = new Set(files.map((f) => f.path));
    if (props.notFoundDocument !== undefined && !paths.has(props.notFoundDocument.replace(/^\//, ''))) {
      throw new Error(`notFoundDocument must be a path in the content, got "${props.notFoundDocument}" (content has ${describePaths(files)})`);
    }
    const notFoundDocument = props.notFoundDocument?.replace(/^\//, '');
    const spaFallback = props.spaFallback ?? false;
    if (spaFallback && !paths.has(this.indexDocument)) {
      throw new Error(`spaFallback needs the indexDocument "${this.indexDocument}" at the top of the content, which has ${describePaths(files)}`);
    }
    const shadowed = this.healthPath.slice(1);
    if (paths.has(shadowed) || files.some((f) => f.path.startsWith(`${shadowed}/`))) {
      throw new Error(`healthPath "${this.healthPath}" would hide the content path "${shadowed}": choose another healthPath`);
    }

    // ---- the nginx config
    this.nginxConf = renderNginxConf({
      port: this.port,
      root: STATIC_SITE_CONTENT_PATH,
      mimeTypesPath: `${STATIC_SITE_CONFIG_PATH}/mime.types`,
      indexDocument: this.indexDocument,
      notFoundDocument,
      spaFallback,
      gzip: props.gzip ?? true,
      htmlCacheControl,
      assetCacheControl,
      responseHeaders,
      healthPath: this.healthPath,
      accessLog: props.accessLog ?? true,
    });
    const nginxData = { 'nginx.conf': this.nginxConf, 'mime.types': renderMimeTypes(contentTypes) };

    // ---- ConfigMaps
    const content = { data, binaryData: Object.fromEntries(Object.entries(binaryData).map(([k, v]) => [k, v.toString('base64')])) };
    const immutable = props.immutableContent ?? false;
    const contentName = immutable ? `${this.name}-content-${contentHash(content, 10)}` : `${this.name}-content`;
    const jsonBytes = Buffer.byteLength(JSON.stringify(content));
    this.configMap = new kplus.ConfigMap(this, 'Content', {
      metadata: {
        name: contentName,
        // Too big for kubectl's client-side last-applied annotation: have Argo CD apply it server-side.
        annotations: jsonBytes + 1024 > LAST_APPLIED_LIMIT_BYTES ? { 'argocd.argoproj.io/sync-options': 'ServerSideApply=true' } : undefined,
      },
      data: Object.keys(data).length ? data : undefined,
      binaryData: Object.keys(content.binaryData).length ? content.binaryData : undefined,
      immutable: immutable || undefined,
    });
    this.nginxConfigMap = new kplus.ConfigMap(this, 'NginxConfig', { metadata: { name: `${this.name}-config` }, data: nginxData });

    // ---- the Deployment
    const contentVolume = kplus.Volume.fromConfigMap(this, 'ContentVolume', this.configMap, {
      name: 'content',
      items: Object.fromEntries(files.map((f) => [f.key, { path: f.path }])),
    });
    const configVolume = kplus.Volume.fromConfigMap(this, 'NginxConfigVolume', this.nginxConfigMap, { name: 'nginx-config' });
    const tmpVolume = kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp', { sizeLimit: Size.mebibytes(16) });
    const cacheVolume = kplus.Volume.fromEmptyDir(this, 'CacheVolume', 'nginx-cache', { sizeLimit: Size.mebibytes(16) });
    const probe = (periodSeconds: number, failureThreshold: number) => kplus.Probe.fromHttpGet(this.healthPath, {
      port: this.port, periodSeconds: Duration.seconds(periodSeconds), timeoutSeconds: Duration.seconds(2), failureThreshold,
    });
    const ids = { user: STATIC_SITE_NGINX_UID, group: STATIC_SITE_NGINX_UID };
    this.deployment = new kplus.Deployment(this, 'Resource', {
      metadata: { name: this.name },
      replicas: this.replicas,
      ...hardenedPodProps({ ...ids, fsGroup: STATIC_SITE_NGINX_UID }),
      containers: [hardenedContainer({
        name: 'nginx',
        image: this.image,
        // nginx itself, not the image's entrypoint (whose scripts write below /etc/nginx).
        command: ['/usr/sbin/nginx'],
        args: ['-e', 'stderr', '-c', `${STATIC_SITE_CONFIG_PATH}/nginx.conf`, '-g', 'daemon off;'],
        ports: [{ name: 'http', number: this.port }],
        readiness: probe(5, 2),
        liveness: probe(10, 3),
        // Give Service endpoints time to drop the pod before nginx stops accepting.
        lifecycle: { preStop: kplus.Handler.fromCommand(['/bin/sleep', '5']) },
        resources: props.resources ?? DEFAULT_RESOURCES,
        volumeMounts: [
          { path: STATIC_SITE_CONTENT_PATH, volume: contentVolume, readOnly: true },
          { path: STATIC_SITE_CONFIG_PATH, volume: configVolume, readOnly: true },
          { path: '/tmp', volume: tmpVolume },
          { path: '/var/cache/nginx', volume: cacheVolume },
        ],
      }, ids)],
    });
    addChecksumAnnotation(this.deployment, 'content', content);
    addChecksumAnnotation(this.deployment, 'nginx-config', nginxData);
    if (this.replicas >= 2) {
      this.deployment.scheduling.spread({ topology: kplus.Topology.HOSTNAME, weight: 100 });
      this.podDisruptionBudget = new KubePodDisruptionBudget(this, 'DisruptionBudget', {
        metadata: { name: this.name },
        spec: { maxUnavailable: IntOrString.fromNumber(1), selector: { matchLabels: this.deployment.matchLabels } },
      });
    }

    // ---- Service, Ingress, NetworkPolicy
    this.service = this.deployment.exposeViaService({
      name: this.name,
      serviceType: props.serviceType ?? kplus.ServiceType.CLUSTER_IP,
      ports: [{ name: 'http', port: this.servicePort, targetPort: this.port }],
    });
    if (props.ingress) this.ingress = this.createIngress(props.ingress);
    if (props.networkPolicy) this.networkPolicy = this.createNetworkPolicy(props.networkPolicy);

    applyLabels(this, recommendedLabels({ name: 'static-site', instance: this.name, component: 'web-server' }));
  }

  private createIngress(o: StaticSiteIngressOptions): kplus.Ingress {
    if (o.host !== undefined) validateDnsSubdomain(o.host.replace(/^\*\./, ''), 'ingress.host');
    const ingressPath = o.path ?? '/';
    if (!/^\/[A-Za-z0-9._~\-/]*$/.test(ingressPath)) {
      throw new Error(`ingress.path must be an absolute URL path like "/" or "/docs", got "${ingressPath}"`);
    }
    if (o.className !== undefined) validateDnsSubdomain(o.className, 'ingress.className');
    if (o.tlsSecretName !== undefined) validateDnsSubdomain(o.tlsSecretName, 'ingress.tlsSecretName');
    return new kplus.Ingress(this, 'Ingress', {
      metadata: { name: this.name },
      className: o.className,
      rules: [{
        host: o.host,
        path: ingressPath,
        pathType: kplus.HttpIngressPathType.PREFIX,
        backend: kplus.IngressBackend.fromService(this.service, { port: this.servicePort }),
      }],
      tls: o.tlsSecretName === undefined ? undefined : [{
        hosts: o.host === undefined ? undefined : [o.host],
        secret: kplus.Secret.fromSecretName(this, 'TlsSecret', o.tlsSecretName),
      }],
    });
  }

  private createNetworkPolicy(o: StaticSiteNetworkPolicyOptions): KubeNetworkPolicy {
    const namespaces = o.allowFromNamespaces;
    if (namespaces !== undefined) {
      if (namespaces.length === 0) throw new Error('networkPolicy.allowFromNamespaces must list at least one namespace, got []');
      namespaces.forEach((ns, i) => validateDnsLabel(ns, `networkPolicy.allowFromNamespaces[${i}]`));
    }
    return new KubeNetworkPolicy(this, 'NetworkPolicy', {
      metadata: { name: this.name },
      spec: {
        podSelector: { matchLabels: this.deployment.matchLabels },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{
          ports: [{ protocol: 'TCP', port: IntOrString.fromNumber(this.port) }],
          from: namespaces === undefined ? undefined : [{
            namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [...namespaces].sort() }] },
          }],
        }],
        // nginx serves files from its volumes and needs no egress, not even DNS.
        egress: [],
      },
    });
  }
}

// ------------------------------------------------------------- helpers ---

function validateHeaderValue(value: string, prop: string): string {
  if (typeof value !== 'string' || /[\x00-\x1f\x7f$]/.test(value)) {
    throw new Error(`${prop} must be a header value without control characters or '$', got ${JSON.stringify(value)}`);
  }
  return value;
}

function resolveHeaders(extra: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = { 'X-Content-Type-Options': 'nosniff' };
  for (const [name, value] of Object.entries(extra)) {
    if (!HEADER_NAME.test(name)) throw new Error(`responseHeaders name must be an HTTP header name (token characters), got "${name}"`);
    if (name.toLowerCase() === 'cache-control') {
      throw new Error('responseHeaders must not set Cache-Control, got "Cache-Control": use htmlCacheControl and assetCacheControl');
    }
    validateHeaderValue(value, `responseHeaders "${name}"`);
    for (const existing of Object.keys(headers)) if (existing.toLowerCase() === name.toLowerCase()) delete headers[existing];
    headers[name] = value;
  }
  return headers;
}

function resolveContentTypes(extra: Record<string, string>): Record<string, string> {
  const types: Record<string, string> = { ...DEFAULT_CONTENT_TYPES };
  for (const [ext, type] of Object.entries(extra)) {
    if (!EXTENSION.test(ext)) throw new Error(`contentTypes extension must be lowercase letters and digits without the dot, got "${ext}"`);
    if (!MEDIA_TYPE.test(type)) throw new Error(`contentTypes "${ext}" must be a lowercase media type like "text/html", got "${type}"`);
    types[ext] = type;
  }
  return types;
}

function contentTypeOf(filePath: string, types: Record<string, string>): string {
  const base = filePath.split('/').pop()!;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? types[base.slice(dot + 1).toLowerCase()] ?? FALLBACK_CONTENT_TYPE : FALLBACK_CONTENT_TYPE;
}

function describePaths(files: readonly StaticSiteFile[]): string {
  const shown = files.slice(0, 5).map((f) => `"${f.path}"`).join(', ');
  return files.length > 5 ? `${shown} and ${files.length - 5} more` : shown;
}

/**
 * Checks that a content path can be a URL path and, segment by segment, part
 * of a ConfigMap key and a volume item path.
 */
function validateContentPath(p: string, origin: string): string {
  const segments = p.split('/');
  if (p === '' || segments.some((s) => s === '' || s === '.' || s.startsWith('..'))) {
    throw new Error(`content path "${p}" from ${origin} must be a relative path without empty, "." or ".." segments (or segments starting with "..")`);
  }
  const bad = segments.find((s) => !isConfigMapKeyText(s));
  if (bad !== undefined) {
    throw new Error(`content path "${p}" from ${origin} cannot become a ConfigMap key: "${bad}" may only contain letters, digits, '-', '_' and '.'; rename it`);
  }
  return p;
}

function collectContent(contentDir: string | undefined, inline: Record<string, string | Buffer> | undefined): CollectedFile[] {
  const byPath = new Map<string, CollectedFile>();
  const add = (f: CollectedFile) => {
    const prior = byPath.get(f.path);
    if (prior) throw new Error(`content path "${f.path}" is given twice: by ${prior.origin} and by ${f.origin}`);
    byPath.set(f.path, f);
  };
  if (contentDir !== undefined) {
    const root = path.resolve(contentDir);
    if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new Error(`contentDir must be a directory, got "${contentDir}"`);
    const origin = `contentDir "${contentDir}"`;
    const seen = new Set<string>();
    const walk = (dir: string, rel: string[]) => {
      const real = fs.realpathSync(dir);
      if (seen.has(real)) return; // a symlink loop
      seen.add(real);
      for (const name of fs.readdirSync(dir).sort()) {
        const abs = path.join(dir, name);
        const st = fs.statSync(abs);
        const segs = [...rel, name];
        if (st.isDirectory()) walk(abs, segs);
        else if (st.isFile()) {
          const p = validateContentPath(segs.join('/'), origin);
          add({ path: p, bytes: fs.readFileSync(abs), text: false, origin });
        }
      }
    };
    walk(root, []);
  }
  for (const [rawPath, value] of Object.entries(inline ?? {})) {
    const p = validateContentPath(rawPath.replace(/^\//, ''), 'content');
    if (typeof value === 'string') add({ path: p, bytes: Buffer.from(value, 'utf8'), text: true, origin: 'content' });
    else if (Buffer.isBuffer(value)) add({ path: p, bytes: value, text: false, origin: 'content' });
    else throw new Error(`content "${rawPath}" must be a string or a Buffer, got ${typeof value}`);
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * ConfigMap keys for content paths: segments joined with `__`
 * (`css/site.css` -> `css__site.css`). Paths that would share a key (such as
 * `a__b.txt` and `a/b.txt`) each get a short hash of their path appended.
 */
function assignKeys(paths: string[]): Map<string, string> {
  const groups = new Map<string, string[]>();
  for (const p of paths) {
    const k = p.split('/').join(KEY_SEPARATOR);
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  const keys = new Map<string, string>();
  for (const [k, members] of groups) {
    for (const p of members) keys.set(p, members.length === 1 ? k : `${k}.${contentHash(p, 8)}`);
  }
  if (new Set(keys.values()).size !== keys.size) throw new Error(`content paths map to clashing ConfigMap keys: ${[...keys.values()].join(', ')}`);
  for (const [p, k] of keys) {
    if (k.length > 253) throw new Error(`content path "${p}" is too long for a ConfigMap key (${k.length} characters as "${k.slice(0, 40)}...", at most 253)`);
  }
  return keys;
}
