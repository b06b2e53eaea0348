import { ApiObject, Duration, JsonPatch, Lazy, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { addChecksumAnnotation, contentHash } from './hash';
import { validateImage } from './image';
import {
  EgressOptions,
  ExposeOptions,
  Exposure,
  IngressOptions,
  ResolvedExpose,
  WorkloadNetworkPolicy,
  exposeWorkload,
  resolveExpose,
} from './expose';
import { StoredFile } from './files';
import { applyLabels, recommendedLabels, selectPods, selectorLabels } from './labels';
import { applySpread, resolveReplicas } from './policy';
import { DEFAULT_RESOURCES, hardenedContainer, hardenedPodProps, resolveSizeLimit } from './security';
import {
  validateBoolean,
  validateConfigMapKey,
  validateDnsLabel,
  validateHeaderValue,
  validateHttpPath,
  validateFileExtension,
  validateHeaderName,
  validateKnownProps,
  validateMediaType,
  validateRecord,
  validateUnprivilegedPort,
  required,
} from './validate';
import { Files, WorkloadSecurityOptions, mergeResources, resolveFiles, resolveSecurity } from './workload';
import { DEFAULT_CONTENT_TYPES, renderMimeTypes, renderNginxConf } from './static-site/nginx-conf';
import { SiteContent, resolveSiteContent } from './static-site/content';
import { NGINX_UNPRIVILEGED_IMAGE } from './images';

export { DEFAULT_CONTENT_TYPES } from './static-site/nginx-conf';

/**
 * The default image: the official nginx build that runs without root, on the
 * stable 1.28 branch, pinned.
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
   * The files to serve: `Files.fromDirectory(dir)` (nested folders included,
   * their paths kept), `Files.fromContent({ 'index.html': '...' })` (strings
   * are UTF-8 text, Buffers raw bytes) or several with `Files.of(...)`. Read
   * at synth time. Must hold `indexDocument`; an empty folder, a path given
   * twice, text that is not UTF-8, secret-looking files (see
   * `allowSecretFiles`) and more than a ConfigMap's 1 MiB are refused.
   * `addFiles` adds more after construction.
   */
  readonly files: Files;
  /**
   * The nginx image; it must provide `/usr/sbin/nginx`. The image's
   * entrypoint and its /etc/nginx are not used.
   * @default Images.NGINX_UNPRIVILEGED (nginxinc/nginx-unprivileged:1.28.0-alpine)
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
   * `addResponseHeader` adds more after construction.
   * @default - only `X-Content-Type-Options: nosniff` (which these entries may override)
   */
  readonly responseHeaders?: Record<string, string>;
  /**
   * Content types by file extension (lowercase, without the dot), added to or
   * overriding the built-in table.
   * @default - the built-in table: html, css, js, json, svg, png, jpg, gif, webp, ico, woff/woff2, ttf, wasm, pdf and
   *   about 25 more common extensions; anything else is sent as application/octet-stream
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
   * @default Size.mebibytes(16)
   */
  readonly emptyDirSizeLimit?: Size;
  /**
   * Pod replicas, 0-1000. With 2 or more the pods prefer different nodes
   * (preferred anti-affinity on `kubernetes.io/hostname`) and (by default) a
   * PodDisruptionBudget keeps all but one running during node drains.
   * @default 2
   */
  readonly replicas?: number;
  /**
   * CPU, memory and ephemeral-storage requests and limits of the nginx
   * container, merged leaf by leaf over the defaults: `{ cpu: { limit: Cpu.millis(1000) } }`
   * keeps the other five values.
   * @default - 50m CPU and 64 MiB memory requested, 500m CPU and 128 MiB memory at most; 64 MiB ephemeral storage
   *   requested, 256 MiB at most
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Who nginx runs as. nginx writes only to its emptyDirs, which belong to `fsGroup`.
   * @default - user 10101, group 10101, fsGroup 10101 (above 10000, so never a user of the node)
   */
  readonly securityContext?: WorkloadSecurityOptions;
  /**
   * Make the content ConfigMap immutable and name it after a hash of the
   * content (`<name>-content-<hash>`): a change creates a new ConfigMap and
   * rolls the Deployment to it. Old ConfigMaps are left for your GitOps
   * pruning to remove.
   * The name is decided at construction, so `addFiles` is refused with it:
   * give every file in `files`.
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

const STATIC_SITE_PROPS: Record<keyof Required<StaticSiteProps>, true> = {
  name: true,
  files: true,
  image: true,
  port: true,
  indexDocument: true,
  notFoundDocument: true,
  spaFallback: true,
  gzip: true,
  htmlCacheControl: true,
  assetCacheControl: true,
  responseHeaders: true,
  contentTypes: true,
  accessLog: true,
  healthPath: true,
  emptyDirSizeLimit: true,
  replicas: true,
  resources: true,
  securityContext: true,
  immutableContent: true,
  allowSecretFiles: true,
  serviceType: true,
  servicePort: true,
  ingress: true,
  networkPolicy: true,
  podDisruptionBudget: true,
};

/** A StaticSite's props with every default decided and every value checked: plain data, no construct. */
export interface ResolvedStaticSite {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly selector: Readonly<Record<string, string>>;
  readonly image: string;
  readonly port: number;
  readonly replicas: number;
  readonly resources: kplus.ContainerResources;
  readonly securityContext: { readonly user: number; readonly group: number; readonly fsGroup: number };
  readonly emptyDirSizeLimit: Size;
  readonly immutableContent: boolean;
  readonly allowSecretFiles: boolean;
  readonly indexDocument: string;
  readonly notFoundDocument?: string;
  readonly spaFallback: boolean;
  readonly gzip: boolean;
  readonly htmlCacheControl: string;
  readonly assetCacheControl: string;
  readonly accessLog: boolean;
  readonly healthPath: string;
  /** Every header added to responses, `X-Content-Type-Options` included. */
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** Content types by extension, built-ins included. */
  readonly contentTypes: Readonly<Record<string, string>>;
  /** The served files as ConfigMap data. */
  readonly content: SiteContent;
  /** The generated nginx.conf and mime.types. */
  readonly nginxConf: string;
  readonly mimeTypes: string;
  readonly expose: ResolvedExpose;
}

/**
 * Validates a StaticSite's props and decides every default; reads the files.
 * Creates no construct.
 */
export function resolveStaticSite(props: StaticSiteProps): ResolvedStaticSite {
  required(props, 'StaticSite props');
  validateKnownProps(props, STATIC_SITE_PROPS, 'StaticSite props');
  const name = validateDnsLabel(props.name ?? 'static-site', 'name');
  const replicas = resolveReplicas(props.replicas);
  const healthPath = validateHttpPath(props.healthPath ?? '/healthz', 'healthPath');
  if (healthPath === '/' || healthPath.endsWith('/')) {
    throw new Error(`healthPath must name a location below "/" without a trailing "/", such as "/healthz", got "${healthPath}"`);
  }
  let responseHeaders: Record<string, string> = { 'X-Content-Type-Options': 'nosniff' };
  for (const [header, value] of Object.entries(validateRecord(props.responseHeaders, 'responseHeaders'))) {
    responseHeaders = withHeader(responseHeaders, header, value);
  }
  const contentTypes = resolveContentTypes(validateRecord(props.contentTypes, 'contentTypes'));
  const labels = recommendedLabels({ name: 'static-site', instance: name, component: 'web-server' });
  const settings = {
    name,
    labels,
    selector: selectorLabels(labels),
    replicas,
    healthPath,
    responseHeaders,
    contentTypes,
    image: validateImage(props.image ?? STATIC_SITE_DEFAULT_IMAGE, 'image'),
    port: validateUnprivilegedPort(props.port ?? 8080, 'port'),
    resources: mergeResources(DEFAULT_RESOURCES, props.resources, 'resources'),
    securityContext: resolveSecurity(props.securityContext, 'securityContext', { user: STATIC_SITE_NGINX_UID }),
    emptyDirSizeLimit: resolveSizeLimit(props.emptyDirSizeLimit, 'emptyDirSizeLimit', STATIC_SITE_EMPTY_DIR_SIZE_LIMIT),
    immutableContent: validateBoolean(props.immutableContent ?? false, 'immutableContent'),
    allowSecretFiles: validateBoolean(props.allowSecretFiles ?? false, 'allowSecretFiles'),
    indexDocument: validateConfigMapKey(props.indexDocument ?? 'index.html', 'indexDocument'),
    notFoundDocument: resolveNotFoundDocument(props.notFoundDocument),
    spaFallback: validateBoolean(props.spaFallback ?? false, 'spaFallback'),
    gzip: validateBoolean(props.gzip ?? true, 'gzip'),
    accessLog: validateBoolean(props.accessLog ?? true, 'accessLog'),
    htmlCacheControl: validateHeaderValue(props.htmlCacheControl ?? 'no-cache', 'htmlCacheControl'),
    assetCacheControl: validateHeaderValue(props.assetCacheControl ?? 'public, max-age=3600', 'assetCacheControl'),
    expose: resolveExpose(props, replicas),
  };
  if (props.files === undefined) {
    throw new Error(
      "files is required: the site's files, such as Files.fromDirectory(path.join(__dirname, 'site')) " +
        "or Files.fromContent({ 'index.html': '<h1>hello</h1>' })",
    );
  }
  const content = resolveSiteContent(resolveFiles(props.files, 'files'), settings);
  return Object.freeze({ ...settings, content, ...renderConfig(settings) });
}

/**
 * Serves static files with nginx from ConfigMaps: a hardened Deployment
 * (non-root, read-only root filesystem, nginx started with a generated
 * config instead of the image's entrypoint), a Service (port 80), a
 * NetworkPolicy (ingress to the site's port only, no egress), a
 * PodDisruptionBudget and spread over nodes with 2 or more replicas, and
 * optionally an Ingress.
 *
 * Content comes from {@link Files} (a local folder, nested folders included,
 * inline files, or both), and `addFiles` adds more; changing any file changes
 * a pod-template checksum, so the Deployment rolls.
 */
export class StaticSite extends Construct {
  /** Base name of every object; the `app.kubernetes.io/instance` label. */
  public readonly name: string;
  /** The nginx image. */
  public readonly image: string;
  /** Container port nginx listens on. */
  public readonly port: number;
  /** Port of the Service. */
  public readonly servicePort: number;
  /** Pod replicas. */
  public readonly replicas: number;
  /** The recommended labels on every object (name `static-site`, instance `name`). */
  public readonly labels: Readonly<Record<string, string>>;
  /** The pod selector: `app.kubernetes.io/name` and `app.kubernetes.io/instance`. */
  public readonly selector: Readonly<Record<string, string>>;
  /** The ConfigMap holding the content (`<name>-content`, or `<name>-content-<hash>` with `immutableContent`). */
  public readonly configMap: kplus.IConfigMap;
  /** The ConfigMap holding nginx.conf and mime.types (`<name>-config`). */
  public readonly nginxConfigMap: kplus.ConfigMap;
  /** The nginx Deployment. */
  public readonly deployment: kplus.Deployment;
  /** The Service in front of the pods. */
  public readonly service: kplus.Service;
  /** The NetworkPolicy, unless `networkPolicy` is false. */
  public readonly networkPolicy?: WorkloadNetworkPolicy;
  /** The PodDisruptionBudget, unless disabled (by default only with replicas >= 2). */
  public readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;

  private readonly resolved: ResolvedStaticSite;
  private readonly exposure: Exposure;
  private readonly contentObject: k8s.KubeConfigMap;
  private readonly contentItems: { key: string; path: string }[] = [];
  private content: SiteContent;
  private responseHeaders: Readonly<Record<string, string>>;
  private nginxConf: string;

  constructor(scope: Construct, id: string, props: StaticSiteProps) {
    super(scope, id);
    const r = resolveStaticSite(props);
    this.resolved = r;
    this.content = r.content;
    this.responseHeaders = r.responseHeaders;
    this.nginxConf = r.nginxConf;
    this.name = r.name;
    this.image = r.image;
    this.port = r.port;
    this.servicePort = r.expose.servicePort;
    this.replicas = r.replicas;
    this.labels = r.labels;
    this.selector = r.selector;
    this.contentObject = this.buildContentConfigMap();
    this.configMap = kplus.ConfigMap.fromConfigMapName(this, 'ContentRef', this.contentObject.name);
    this.nginxConfigMap = new kplus.ConfigMap(this, 'NginxConfig', {
      metadata: { name: `${r.name}-config` },
      // written at synth: addResponseHeader changes it
      data: { 'nginx.conf': Lazy.any({ produce: () => this.nginxConf }) as unknown as string, 'mime.types': r.mimeTypes },
    });
    this.deployment = this.buildDeployment();
    this.storeContent(r.content);
    this.storeNginxConfig(r.nginxConf);
    // nginx serves files from its volumes and needs no egress, not even DNS.
    this.exposure = exposeWorkload(this, r.expose, { name: r.name, selector: { ...r.selector }, targetPort: r.port, egress: [], labels: r.labels });
    this.service = this.exposure.service;
    this.networkPolicy = this.exposure.networkPolicy;
    this.podDisruptionBudget = this.exposure.podDisruptionBudget;
    applyLabels(this, r.labels);
  }

  /** Every served file, sorted by path, with the ConfigMap key and the Content-Type nginx sends. */
  public get files(): readonly StoredFile[] {
    return this.content.files;
  }

  /** The Ingress, when `ingress` is given or {@link StaticSite.exposeViaIngress} was called. */
  public get ingress(): kplus.Ingress | undefined {
    return this.exposure.ingress;
  }

  /**
   * Serves more files, checked with the ones already there exactly as the
   * `files` prop is (a path given twice, secret-looking files, UTF-8, the
   * 1 MiB limit, the health path). The content ConfigMap and the pods'
   * checksum annotation follow, so the Deployment rolls. Refused with
   * `immutableContent`, whose ConfigMap name is a hash of the content decided
   * at construction.
   */
  public addFiles(files: Files): void {
    if (this.resolved.immutableContent) {
      throw new Error(
        `files cannot be added with addFiles to "${this.name}" with immutableContent: true: the content ConfigMap's name ` +
          `"${this.contentObject.name}" is a hash of the files given at construction; give every file in the files prop`,
      );
    }
    const added = resolveFiles(files, 'files');
    this.storeContent(resolveSiteContent([...this.content.entries, ...added], this.resolved));
  }

  /**
   * Adds a header to every response (errors included), as an entry of
   * `responseHeaders`: the same checks, and a name given again (in any case)
   * replaces the earlier value.
   */
  public addResponseHeader(name: string, value: string): void {
    this.responseHeaders = withHeader(this.responseHeaders, name, value);
    this.storeNginxConfig(renderConfig({ ...this.resolved, responseHeaders: this.responseHeaders }).nginxConf);
  }

  /**
   * Lets `peer` connect to the site's port, as an entry of `networkPolicy.allowFrom`
   * (so, as with the prop, the site's own namespace is no longer let in by default).
   */
  public allowFrom(peer: k8s.NetworkPolicyPeer): void {
    this.exposure.allowFrom(peer);
  }

  /** Lets the pods of these namespaces connect, as entries of `networkPolicy.allowFromNamespaces`. */
  public allowFromNamespaces(...namespaces: string[]): void {
    this.exposure.allowFromNamespaces(...namespaces);
  }

  /** Creates the Ingress, as the `ingress` prop does; a site has one Ingress. */
  public exposeViaIngress(options: IngressOptions): kplus.Ingress {
    return this.exposure.exposeViaIngress(options);
  }

  /**
   * Lets nginx's pods connect to `peer` (on `options.ports` only, when given):
   * by default they reach nothing, not even DNS.
   */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, options: EgressOptions = {}): void {
    if (!this.networkPolicy) {
      throw new Error(`allowEgressTo needs the NetworkPolicy, got networkPolicy false for "${this.name}" (manage traffic yourself)`);
    }
    this.networkPolicy.allowEgressTo(peer, options);
  }

  /** The content ConfigMap; its data, items and annotations are written at synth from the current content. */
  private buildContentConfigMap(): k8s.KubeConfigMap {
    const r = this.resolved;
    const nonEmpty = (o: Record<string, string>) => (Object.keys(o).length ? o : undefined);
    return new k8s.KubeConfigMap(this, 'Content', {
      metadata: { name: r.immutableContent ? `${r.name}-content-${contentHash(contentOf(r.content), 10)}` : `${r.name}-content` },
      data: Lazy.any({ produce: () => nonEmpty(this.content.data) }),
      binaryData: Lazy.any({ produce: () => nonEmpty(this.content.binaryData) }),
      immutable: r.immutableContent,
    });
  }

  /** The one path for content, from the prop and from addFiles: data, volume items, checksum, server-side apply. */
  private storeContent(content: SiteContent): void {
    this.content = content;
    this.contentItems.splice(
      0,
      this.contentItems.length,
      ...[...content.files].sort((a, b) => (a.key < b.key ? -1 : 1)).map((f) => ({ key: f.key, path: f.path })),
    );
    addChecksumAnnotation(this.deployment, 'content', contentOf(content));
    // Too big for kubectl's client-side last-applied annotation: have Argo CD apply it server-side.
    if (Buffer.byteLength(JSON.stringify(contentOf(content))) + 1024 > LAST_APPLIED_LIMIT_BYTES) {
      this.contentObject.metadata.addAnnotation('argocd.argoproj.io/sync-options', 'ServerSideApply=true');
    }
  }

  private storeNginxConfig(nginxConf: string): void {
    this.nginxConf = nginxConf;
    addChecksumAnnotation(this.deployment, 'nginx-config', { 'nginx.conf': nginxConf, 'mime.types': this.resolved.mimeTypes });
  }

  private buildDeployment(): kplus.Deployment {
    const r = this.resolved;
    const contentVolume = kplus.Volume.fromConfigMap(this, 'ContentVolume', this.configMap, { name: 'content' });
    const configVolume = kplus.Volume.fromConfigMap(this, 'NginxConfigVolume', this.nginxConfigMap, { name: 'nginx-config' });
    const tmpVolume = kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp', { sizeLimit: r.emptyDirSizeLimit });
    const cacheVolume = kplus.Volume.fromEmptyDir(this, 'CacheVolume', 'nginx-cache', { sizeLimit: r.emptyDirSizeLimit });
    // readiness asks nginx's health path; liveness only whether the port accepts connections, over a
    // longer threshold: the same probe for both would restart pods that are merely busy
    const readiness = kplus.Probe.fromHttpGet(r.healthPath, {
      port: r.port,
      periodSeconds: Duration.seconds(5),
      timeoutSeconds: Duration.seconds(2),
      failureThreshold: 2,
    });
    const liveness = kplus.Probe.fromTcpSocket({
      port: r.port,
      periodSeconds: Duration.seconds(10),
      timeoutSeconds: Duration.seconds(2),
      failureThreshold: 6,
    });
    const ids = { user: r.securityContext.user, group: r.securityContext.group };
    const deployment = new kplus.Deployment(this, 'Resource', {
      metadata: { name: r.name },
      replicas: r.replicas,
      select: false,
      ...hardenedPodProps({ ...ids, fsGroup: r.securityContext.fsGroup }),
      containers: [
        hardenedContainer(
          {
            name: 'nginx',
            image: r.image,
            // nginx itself, not the image's entrypoint (whose scripts write below /etc/nginx).
            command: ['/usr/sbin/nginx'],
            args: ['-e', 'stderr', '-c', `${STATIC_SITE_CONFIG_PATH}/nginx.conf`, '-g', 'daemon off;'],
            ports: [{ name: 'http', number: r.port }],
            readiness,
            liveness,
            // Give Service endpoints time to drop the pod before nginx stops accepting.
            lifecycle: { preStop: kplus.Handler.fromCommand(['/bin/sleep', '5']) },
            resources: r.resources,
            volumeMounts: [
              { path: STATIC_SITE_CONTENT_PATH, volume: contentVolume, readOnly: true },
              { path: STATIC_SITE_CONFIG_PATH, volume: configVolume, readOnly: true },
              { path: '/tmp', volume: tmpVolume },
              { path: '/var/cache/nginx', volume: cacheVolume },
            ],
          },
          ids,
        ),
      ],
    });
    // ConfigMap keys cannot hold "/": the items put each key at its path. cdk8s-plus renders a volume's items
    // when it is created, so they are written at synth (the content volume is the pod's first) to include addFiles.
    ApiObject.of(deployment).addJsonPatch(
      JsonPatch.test('/spec/template/spec/volumes/0/name', 'content'),
      JsonPatch.add('/spec/template/spec/volumes/0/configMap/items', this.contentItems),
    );
    selectPods(deployment, { ...r.selector });
    applySpread(deployment, { ...r.selector }, r.replicas);
    return deployment;
  }
}

// ------------------------------------------------------------- helpers ---

/** What the checksum and the content hash cover: the ConfigMap's data. */
function contentOf(content: SiteContent): { data: Record<string, string>; binaryData: Record<string, string> } {
  return { data: content.data, binaryData: content.binaryData };
}

/** `headers` with one more entry, checked as a `responseHeaders` entry; a name given again (any case) replaces the earlier one. */
function withHeader(headers: Readonly<Record<string, string>>, name: string, value: string): Record<string, string> {
  validateHeaderName(name, 'responseHeaders name');
  if (name.toLowerCase() === 'cache-control') {
    throw new Error('responseHeaders must not set Cache-Control, got "Cache-Control": use htmlCacheControl and assetCacheControl');
  }
  validateHeaderValue(value, `responseHeaders "${name}"`);
  if (value.trim() === '') {
    throw new Error(
      `responseHeaders "${name}" must not be empty (nginx would send no header; remove the entry instead), ` + `got ${JSON.stringify(value)}`,
    );
  }
  const out = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== name.toLowerCase()));
  return { ...out, [name]: value };
}

function resolveNotFoundDocument(doc: string | undefined): string | undefined {
  if (doc === undefined) return undefined;
  if (typeof doc !== 'string' || doc.replace(/^\//, '') === '') {
    throw new Error(`notFoundDocument must be a path in the files such as "404.html", got ${JSON.stringify(doc)}`);
  }
  return doc.replace(/^\//, '');
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

type NginxSettings = Pick<
  ResolvedStaticSite,
  | 'port'
  | 'indexDocument'
  | 'notFoundDocument'
  | 'spaFallback'
  | 'gzip'
  | 'htmlCacheControl'
  | 'assetCacheControl'
  | 'responseHeaders'
  | 'healthPath'
  | 'accessLog'
  | 'contentTypes'
>;

function renderConfig(s: NginxSettings): { nginxConf: string; mimeTypes: string } {
  const nginxConf = renderNginxConf({
    port: s.port,
    root: STATIC_SITE_CONTENT_PATH,
    mimeTypesPath: `${STATIC_SITE_CONFIG_PATH}/mime.types`,
    indexDocument: s.indexDocument,
    notFoundDocument: s.notFoundDocument,
    spaFallback: s.spaFallback,
    gzip: s.gzip,
    htmlCacheControl: s.htmlCacheControl,
    assetCacheControl: s.assetCacheControl,
    responseHeaders: { ...s.responseHeaders },
    healthPath: s.healthPath,
    accessLog: s.accessLog,
  });
  return { nginxConf, mimeTypes: renderMimeTypes(s.contentTypes) };
}
