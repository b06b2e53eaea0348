import * as path from 'node:path';
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { addChecksumAnnotation, contentHash } from './hash';
import { validateImage } from './image';
import { EgressOptions, ExposeOptions, WorkloadNetworkPolicy, exposeWorkload, resolveExpose } from './expose';
import { ConfigMapData, inlineFiles, isUtf8Text, readLocalDirectory, toConfigMapData } from './files';
import { applyLabels, recommendedLabels, selectPods, selectorLabels, spreadOverNodes } from './labels';
import { DEFAULT_RESOURCES, hardenedContainer, hardenedPodProps, resolveSizeLimit } from './security';
import {
  validateBoolean, validateConfigMapKey, validateDnsLabel, validateHeaderValue, validateHttpPath, validatePositiveInteger, validateResources,
  validateFileExtension, validateHeaderName, validateKnownProps, validateMediaType, validateRecord, validateUnprivilegedPort,
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
/**
 * The uid and gid nginx runs as: 10101, above 10000 so it can never be a
 * user of the node (the image's own `nginx` user is 101). The unprivileged
 * image runs as any user: its files are world-readable, and nginx writes only
 * to the pod's emptyDirs (/tmp, /var/cache/nginx), owned by the fsGroup.
 */
export const STATIC_SITE_NGINX_UID = 10101;
/** The `sizeLimit` of nginx's /tmp and /var/cache/nginx emptyDirs: it writes a pid file and, for large request bodies, temp files. */
export const STATIC_SITE_EMPTY_DIR_SIZE_LIMIT = Size.mebibytes(16);
/** Where the content volume is mounted, nginx's `root`. */
export const STATIC_SITE_CONTENT_PATH = '/usr/share/nginx/html';
/** Where the generated nginx.conf and mime.types are mounted. */
export const STATIC_SITE_CONFIG_PATH = '/etc/nginx/static-site';

/** Types whose files are always stored in `binaryData`; other files go there only when they are not UTF-8 text. */
/** Paths that look like secrets, refused unless allowSecretFiles (see {@link StaticSiteProps.allowSecretFiles}). */
const SECRET_FILE = /(^|\/)(\.env(\.[^/]*)?|[^/]*\.(pem|key|p12|pfx|jks|keystore)|id_(rsa|dsa|ecdsa|ed25519)|\.htpasswd|\.netrc|\.npmrc|\.pgpass)$|(^|\/)\.(git|aws|ssh)\//;
/** Types nginx serves with charset=utf-8 (text/*, JSON, XML, JavaScript, YAML, SVG). */
const TEXT_TYPES = /^(text\/|application\/(json|manifest\+json|xml|rss\+xml|atom\+xml|yaml|javascript)$|image\/svg\+xml$)/;
const BINARY_TYPES = /^(image\/(?!svg\+xml$)|font\/|audio\/|video\/|application\/(wasm|pdf|zip|vnd\.ms-fontobject)$)/;
/**
 * kubectl (and Argo CD, which uses it) stores the whole object in the
 * `last-applied-configuration` annotation, which may hold at most 256 KiB.
 */
const LAST_APPLIED_LIMIT_BYTES = 256 * 1024;

/**
 * Props for {@link StaticSite}.
 */
export interface StaticSiteProps extends ExposeOptions {
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
   * Path answered with 200 "ok" by nginx itself: the readiness probe asks it
   * (the liveness probe only checks that the port accepts connections).
   * @default '/healthz'
   */
  readonly healthPath?: string;
  /**
   * `sizeLimit` of nginx's /tmp and /var/cache/nginx emptyDirs.
   * @default STATIC_SITE_EMPTY_DIR_SIZE_LIMIT (16 MiB)
   */
  readonly emptyDirSizeLimit?: Size;
  /**
   * Pod replicas. With 2 or more the pods prefer different nodes and (by
   * default) a PodDisruptionBudget keeps all but one running during node drains.
   * @default 2
   */
  readonly replicas?: number;
  /**
   * CPU and memory requests and limits of the nginx container.
   * @default DEFAULT_RESOURCES (50m/64Mi requested, 500m/128Mi limit)
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Make the content ConfigMap immutable and name it after a hash of the
   * content (`<name>-content-<hash>`): a change creates a new ConfigMap and
   * rolls the Deployment to it. Old ConfigMaps are left for your GitOps
   * pruning to remove.
   * @default false - one mutable ConfigMap `<name>-content`; a content checksum annotation rolls the pods
   */
  readonly immutableContent?: boolean;
  /**
   * Serve files that look like secrets (`.env`, `.env.*`, `*.pem`, `*.key`,
   * `*.p12`, `*.pfx`, `*.jks`, `id_rsa` and other SSH private keys,
   * `.htpasswd`, `.netrc`, `.npmrc`, `.pgpass`, anything below `.git/` or
   * `.aws/`). Without it such a file in the content is refused: a site is
   * public, and these are usually left in a build folder by mistake.
   * @default false
   */
  readonly allowSecretFiles?: boolean;
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

/**
 * Serves static files with nginx from ConfigMaps: a hardened Deployment
 * (non-root uid 101, read-only root filesystem, nginx started with a
 * generated config instead of the image's entrypoint), and the shared
 * exposure (lib/expose.ts): a Service, a NetworkPolicy (ingress to the site's
 * port only, no egress), a PodDisruptionBudget with 2 or more replicas, and
 * optionally an Ingress.
 *
 * Content comes from a local directory (nested folders included), from
 * inline files, or both; changing any file changes a pod-template checksum,
 * so the Deployment rolls.
 */
export class StaticSite extends Construct {
  /** Base name of every object; the `app.kubernetes.io/instance` label. */
  public readonly name: string;
  /** The nginx image. */
  public readonly image: string;
  /** Container port nginx listens on. */
  public readonly port: number;
  /** Service port. */
  public readonly servicePort: number;
  /** Service type. */
  public readonly serviceType: kplus.ServiceType;
  /** Pod replicas. */
  public readonly replicas: number;
  /** The index document. */
  public readonly indexDocument: string;
  /** The 404 page, if any (a content path). */
  public readonly notFoundDocument?: string;
  /** Whether unknown paths serve the index document. */
  public readonly spaFallback: boolean;
  /** Whether textual responses are gzipped. */
  public readonly gzip: boolean;
  /** Cache-Control of HTML responses ('' for none). */
  public readonly htmlCacheControl: string;
  /** Cache-Control of other responses ('' for none). */
  public readonly assetCacheControl: string;
  /** Every header added to responses, `X-Content-Type-Options` included. */
  public readonly responseHeaders: Readonly<Record<string, string>>;
  /** Content types by extension, built-ins included. */
  public readonly contentTypes: Readonly<Record<string, string>>;
  /** Whether requests are logged. */
  public readonly accessLog: boolean;
  /** The health location the probes call. */
  public readonly healthPath: string;
  /** The nginx container's resources. */
  public readonly resources: kplus.ContainerResources;
  /** `sizeLimit` of nginx's emptyDirs. */
  public readonly emptyDirSizeLimit: Size;
  /** Whether the content ConfigMap is immutable and content-named. */
  public readonly immutableContent: boolean;
  /** The recommended labels on every object (name `static-site`, instance `name`). */
  public readonly labels: Readonly<Record<string, string>>;
  /** The pod selector: `app.kubernetes.io/name` and `app.kubernetes.io/instance`. */
  public readonly selector: Readonly<Record<string, string>>;
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
  /** The PodDisruptionBudget, unless disabled (by default only with replicas >= 2). */
  public readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;
  /** The Ingress, when `ingress` is given. */
  public readonly ingress?: kplus.Ingress;
  /** The NetworkPolicy, unless `networkPolicy` is false. */
  public readonly networkPolicy?: WorkloadNetworkPolicy;

  private readonly content: { data: Record<string, string>; binaryData: Record<string, string> };

  constructor(scope: Construct, id: string, props: StaticSiteProps = {}) {
    super(scope, id);

    // ---- resolve and validate the props
    validateKnownProps(props, STATIC_SITE_PROPS, 'StaticSite props');
    this.name = validateDnsLabel(props.name ?? 'static-site', 'name');
    this.image = validateImage(props.image ?? STATIC_SITE_DEFAULT_IMAGE, 'image');
    this.port = validateUnprivilegedPort(props.port ?? 8080, 'port');
    this.replicas = validatePositiveInteger(props.replicas ?? 2, 'replicas', 1, 1000);
    const expose = resolveExpose(props, this.replicas);
    this.servicePort = expose.servicePort;
    this.serviceType = expose.serviceType;
    this.indexDocument = validateConfigMapKey(props.indexDocument ?? 'index.html', 'indexDocument');
    this.healthPath = validateHttpPath(props.healthPath ?? '/healthz', 'healthPath');
    if (this.healthPath === '/' || this.healthPath.endsWith('/')) {
      throw new Error(`healthPath must name a location below "/" without a trailing "/", such as "/healthz", got "${this.healthPath}"`);
    }
    this.spaFallback = validateBoolean(props.spaFallback ?? false, 'spaFallback');
    this.gzip = validateBoolean(props.gzip ?? true, 'gzip');
    this.accessLog = validateBoolean(props.accessLog ?? true, 'accessLog');
    this.immutableContent = validateBoolean(props.immutableContent ?? false, 'immutableContent');
    this.htmlCacheControl = validateHeaderValue(props.htmlCacheControl ?? 'no-cache', 'htmlCacheControl');
    this.assetCacheControl = validateHeaderValue(props.assetCacheControl ?? 'public, max-age=3600', 'assetCacheControl');
    this.responseHeaders = resolveHeaders(validateRecord(props.responseHeaders, 'responseHeaders'));
    this.contentTypes = resolveContentTypes(validateRecord(props.contentTypes, 'contentTypes'));
    this.resources = validateResources(props.resources ?? DEFAULT_RESOURCES, 'resources')!;
    this.emptyDirSizeLimit = resolveSizeLimit(props.emptyDirSizeLimit, 'emptyDirSizeLimit', STATIC_SITE_EMPTY_DIR_SIZE_LIMIT);
    this.labels = recommendedLabels({ name: 'static-site', instance: this.name, component: 'web-server' });
    this.selector = selectorLabels(this.labels);

    // ---- content: read, key, split text and binary, check against the settings
    const stored = this.readContent(props);
    this.content = { data: stored.data, binaryData: stored.binaryData };
    this.contentSizeBytes = stored.sizeBytes;
    this.files = stored.files.map((f) => ({ ...f, contentType: contentTypeOf(f.path, this.contentTypes) }));
    this.notFoundDocument = this.checkContent(props.notFoundDocument);

    // ---- objects, in named steps
    this.nginxConf = this.renderConfig();
    const nginxData = { 'nginx.conf': this.nginxConf, 'mime.types': renderMimeTypes(this.contentTypes) };
    this.configMap = this.createContentConfigMap();
    this.nginxConfigMap = new kplus.ConfigMap(this, 'NginxConfig', { metadata: { name: `${this.name}-config` }, data: nginxData });
    this.deployment = this.createDeployment();
    addChecksumAnnotation(this.deployment, 'content', this.content);
    addChecksumAnnotation(this.deployment, 'nginx-config', nginxData);

    // nginx serves files from its volumes and needs no egress, not even DNS.
    const exposure = exposeWorkload(this, expose, { name: this.name, selector: this.selector, targetPort: this.port, egress: [] });
    this.service = exposure.service;
    this.ingress = exposure.ingress;
    this.networkPolicy = exposure.networkPolicy;
    this.podDisruptionBudget = exposure.podDisruptionBudget;

    applyLabels(this, this.labels);
  }

  /**
   * Lets nginx's pods connect to `peer` (on `options.ports` only, when given):
   * by default they reach nothing, not even DNS.
   */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, options: EgressOptions = {}): void {
    if (!this.networkPolicy) throw new Error(`allowEgressTo needs the NetworkPolicy, got networkPolicy false for "${this.name}" (manage traffic yourself)`);
    this.networkPolicy.allowEgressTo(peer, options);
  }

  /** Reads contentDir and content into ConfigMap data. */
  private readContent(props: StaticSiteProps): ConfigMapData {
    const fromDir = props.contentDir === undefined ? [] : readLocalDirectory(props.contentDir, 'contentDir');
    if (props.contentDir !== undefined && fromDir.length === 0) {
      throw new Error(`contentDir "${props.contentDir}" has no files (resolved to "${path.resolve(props.contentDir)}"): build the site into it first, or point contentDir at the build output`);
    }
    const entries = [...fromDir, ...inlineFiles(props.content, 'content')];
    if (entries.length === 0) {
      throw new Error(`content must not be empty: give contentDir with at least one file, or content with at least one entry, got ${props.content === undefined ? 'neither' : 'content {}'}`);
    }
    if (!validateBoolean(props.allowSecretFiles ?? false, 'allowSecretFiles')) {
      const secret = entries.find((f) => SECRET_FILE.test(f.path.replace(/^\/+/, '')));
      if (secret) {
        throw new Error(`content file "${secret.path}" (from ${secret.origin}) looks like a secret and would be served to anyone: remove it from the content, or set allowSecretFiles: true if it is meant to be public`);
      }
    }
    return toConfigMapData(entries, 'content', {
      binary: (f) => {
        const type = contentTypeOf(f.path, this.contentTypes);
        if (BINARY_TYPES.test(type)) return true;
        if (TEXT_TYPES.test(type) && !f.inlineText && !isUtf8Text(f.bytes)) {
          throw new Error(`content file "${f.path}" (from ${f.origin}) is ${type} but not valid UTF-8, and nginx serves it as charset=utf-8: re-save it as UTF-8 (for example iconv -f latin1 -t utf-8)`);
        }
        return false;
      },
      tooLargeHint: 'serve large assets (images, video, fonts) from object storage or a CDN, split the site, or build an image with the files baked in',
    });
  }

  /** Checks the content against indexDocument, notFoundDocument and healthPath; returns the resolved notFoundDocument. */
  private checkContent(notFound: string | undefined): string | undefined {
    const paths = new Set(this.files.map((f) => f.path));
    if (!paths.has(this.indexDocument)) {
      throw new Error(`indexDocument "${this.indexDocument}" must be a file at the top of the content (it is served for "/"), got content with ${describePaths(this.files)}`);
    }
    const notFoundDocument = notFound?.replace(/^\//, '');
    if (notFoundDocument !== undefined && !paths.has(notFoundDocument)) {
      throw new Error(`notFoundDocument must be a path in the content, got "${notFound}" (content has ${describePaths(this.files)})`);
    }
    const shadowed = this.healthPath.slice(1);
    if (paths.has(shadowed) || this.files.some((f) => f.path.startsWith(`${shadowed}/`))) {
      throw new Error(`healthPath "${this.healthPath}" would hide the content path "${shadowed}": choose another healthPath`);
    }
    return notFoundDocument;
  }

  private renderConfig(): string {
    return renderNginxConf({
      port: this.port,
      root: STATIC_SITE_CONTENT_PATH,
      mimeTypesPath: `${STATIC_SITE_CONFIG_PATH}/mime.types`,
      indexDocument: this.indexDocument,
      notFoundDocument: this.notFoundDocument,
      spaFallback: this.spaFallback,
      gzip: this.gzip,
      htmlCacheControl: this.htmlCacheControl,
      assetCacheControl: this.assetCacheControl,
      responseHeaders: { ...this.responseHeaders },
      healthPath: this.healthPath,
      accessLog: this.accessLog,
    });
  }

  private createContentConfigMap(): kplus.ConfigMap {
    const { data, binaryData } = this.content;
    const name = this.immutableContent ? `${this.name}-content-${contentHash(this.content, 10)}` : `${this.name}-content`;
    const jsonBytes = Buffer.byteLength(JSON.stringify(this.content));
    return new kplus.ConfigMap(this, 'Content', {
      metadata: {
        name,
        // Too big for kubectl's client-side last-applied annotation: have Argo CD apply it server-side.
        annotations: jsonBytes + 1024 > LAST_APPLIED_LIMIT_BYTES ? { 'argocd.argoproj.io/sync-options': 'ServerSideApply=true' } : undefined,
      },
      data: Object.keys(data).length ? data : undefined,
      binaryData: Object.keys(binaryData).length ? binaryData : undefined,
      immutable: this.immutableContent || undefined,
    });
  }

  private createDeployment(): kplus.Deployment {
    const contentVolume = kplus.Volume.fromConfigMap(this, 'ContentVolume', this.configMap, {
      name: 'content',
      items: Object.fromEntries(this.files.map((f) => [f.key, { path: f.path }])),
    });
    const configVolume = kplus.Volume.fromConfigMap(this, 'NginxConfigVolume', this.nginxConfigMap, { name: 'nginx-config' });
    const tmpVolume = kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp', { sizeLimit: this.emptyDirSizeLimit });
    const cacheVolume = kplus.Volume.fromEmptyDir(this, 'CacheVolume', 'nginx-cache', { sizeLimit: this.emptyDirSizeLimit });
    // readiness asks nginx's health path; liveness only whether the port accepts connections, over a
    // longer threshold: the same probe for both would restart pods that are merely busy
    const readiness = kplus.Probe.fromHttpGet(this.healthPath, {
      port: this.port, periodSeconds: Duration.seconds(5), timeoutSeconds: Duration.seconds(2), failureThreshold: 2,
    });
    const liveness = kplus.Probe.fromTcpSocket({
      port: this.port, periodSeconds: Duration.seconds(10), timeoutSeconds: Duration.seconds(2), failureThreshold: 6,
    });
    const ids = { user: STATIC_SITE_NGINX_UID, group: STATIC_SITE_NGINX_UID };
    const deployment = new kplus.Deployment(this, 'Resource', {
      metadata: { name: this.name },
      replicas: this.replicas,
      select: false,
      ...hardenedPodProps({ ...ids, fsGroup: STATIC_SITE_NGINX_UID }),
      containers: [hardenedContainer({
        name: 'nginx',
        image: this.image,
        // nginx itself, not the image's entrypoint (whose scripts write below /etc/nginx).
        command: ['/usr/sbin/nginx'],
        args: ['-e', 'stderr', '-c', `${STATIC_SITE_CONFIG_PATH}/nginx.conf`, '-g', 'daemon off;'],
        ports: [{ name: 'http', number: this.port }],
        readiness,
        liveness,
        // Give Service endpoints time to drop the pod before nginx stops accepting.
        lifecycle: { preStop: kplus.Handler.fromCommand(['/bin/sleep', '5']) },
        resources: this.resources,
        volumeMounts: [
          { path: STATIC_SITE_CONTENT_PATH, volume: contentVolume, readOnly: true },
          { path: STATIC_SITE_CONFIG_PATH, volume: configVolume, readOnly: true },
          { path: '/tmp', volume: tmpVolume },
          { path: '/var/cache/nginx', volume: cacheVolume },
        ],
      }, ids)],
    });
    selectPods(deployment, this.selector);
    if (this.replicas >= 2) spreadOverNodes(deployment, this.selector);
    return deployment;
  }
}

// ------------------------------------------------------------- helpers ---

const STATIC_SITE_PROPS: Record<keyof Required<StaticSiteProps>, true> = { name: true, contentDir: true, content: true, image: true, port: true, indexDocument: true, notFoundDocument: true, spaFallback: true, gzip: true, htmlCacheControl: true, assetCacheControl: true, responseHeaders: true, contentTypes: true, accessLog: true, healthPath: true, emptyDirSizeLimit: true, replicas: true, resources: true, immutableContent: true, allowSecretFiles: true, serviceType: true, servicePort: true, ingress: true, networkPolicy: true, podDisruptionBudget: true };

function resolveHeaders(extra: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = { 'X-Content-Type-Options': 'nosniff' };
  for (const [name, value] of Object.entries(extra)) {
    validateHeaderName(name, 'responseHeaders name');
    if (name.toLowerCase() === 'cache-control') {
      throw new Error('responseHeaders must not set Cache-Control, got "Cache-Control": use htmlCacheControl and assetCacheControl');
    }
    validateHeaderValue(value, `responseHeaders "${name}"`);
    if (value.trim() === '') throw new Error(`responseHeaders "${name}" must not be empty (nginx would send no header; remove the entry instead), got ${JSON.stringify(value)}`);
    for (const existing of Object.keys(headers)) if (existing.toLowerCase() === name.toLowerCase()) delete headers[existing];
    headers[name] = value;
  }
  return headers;
}

function resolveContentTypes(extra: Record<string, string>): Record<string, string> {
  const types: Record<string, string> = { ...DEFAULT_CONTENT_TYPES };
  for (const [ext, type] of Object.entries(extra)) {
    validateFileExtension(ext, 'contentTypes extension');
    validateMediaType(type, `contentTypes "${ext}"`);
    types[ext] = type;
  }
  return types;
}

function contentTypeOf(filePath: string, types: Readonly<Record<string, string>>): string {
  const base = filePath.split('/').pop()!;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? types[base.slice(dot + 1).toLowerCase()] ?? FALLBACK_CONTENT_TYPE : FALLBACK_CONTENT_TYPE;
}

function describePaths(files: readonly StaticSiteFile[]): string {
  const shown = files.slice(0, 5).map((f) => `"${f.path}"`).join(', ');
  return files.length > 5 ? `${shown} and ${files.length - 5} more` : shown;
}
