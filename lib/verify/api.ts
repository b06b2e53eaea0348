/**
 * A small client for the API server the verify command starts: HTTPS
 * requests as the admin (optionally impersonating someone), the server's
 * warnings (the Warning headers kubectl prints), and the REST mapping from
 * apiVersion/kind to a URL that kubectl gets from discovery.
 */
import * as https from 'node:https';

/** What the server answered. */
export interface ApiResponse {
  readonly status: number;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly body: any;
  readonly text: string;
  /** The text of every Warning header, in order. */
  readonly warnings: string[];
}

/** Options of one request. */
export interface RequestOptions {
  readonly body?: unknown;
  readonly contentType?: string;
  /** Impersonate this user (and groups), as `kubectl --as` does. */
  readonly as?: { readonly user: string; readonly groups: readonly string[] };
}

/** Requests to one API server. */
export class ApiClient {
  constructor(
    private readonly server: string,
    private readonly ca: string,
    private readonly token: string,
  ) {}

  public request(method: string, urlPath: string, options: RequestOptions = {}): Promise<ApiResponse> {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string | string[]> = { Authorization: `Bearer ${this.token}`, Accept: 'application/json' };
    if (payload !== undefined) headers['Content-Type'] = options.contentType ?? 'application/json';
    if (options.as) {
      headers['Impersonate-User'] = options.as.user;
      headers['Impersonate-Group'] = [...options.as.groups];
    }
    return new Promise((resolve, reject) => {
      const req = https.request(`${this.server}${urlPath}`, { method, ca: this.ca, agent: false, timeout: 60000, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: any;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, text, warnings: (res.headersDistinct.warning ?? []).map(warningText) });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${urlPath}`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

/** `299 - "text"` (RFC 7234 warn-code, agent, quoted text) as the text kubectl prints. */
export function warningText(header: string): string {
  const m = /^\d{3} \S+ "((?:[^"\\]|\\.)*)"/.exec(header);
  return m ? m[1].replace(/\\(.)/g, '$1') : header;
}

/** The server's own message for a failed request: the Status message, else the body. */
export function serverMessage(r: ApiResponse): string {
  return (typeof r.body?.message === 'string' ? r.body.message : r.text.trim() || `HTTP ${r.status}`).replace(/\s*\n\s*/g, ' ');
}

/** Where the objects of one kind live. */
export interface Resource {
  /** /api/v1 or /apis/<group>/<version> */
  readonly prefix: string;
  /** The plural resource name (deployments). */
  readonly name: string;
  readonly namespaced: boolean;
}

/** apiVersion/kind to resource, from the server's discovery documents (as kubectl's RESTMapper). */
export class RestMapper {
  /** Reads /api and /apis and every group version they list. */
  public static async discover(api: ApiClient): Promise<RestMapper> {
    const get = async (p: string) => {
      const r = await api.request('GET', p);
      if (r.status !== 200) throw new Error(`discovery ${p}: ${serverMessage(r)}`);
      return r.body;
    };
    const core = await get('/api');
    const groups = await get('/apis');
    const versions: Array<{ groupVersion: string; prefix: string }> = [
      ...(core.versions as string[]).map((v) => ({ groupVersion: v, prefix: `/api/${v}` })),
      ...(groups.groups as any[]).flatMap((g) =>
        (g.versions as any[]).map((v) => ({ groupVersion: v.groupVersion as string, prefix: `/apis/${v.groupVersion}` })),
      ),
    ];
    const mapper = new RestMapper();
    await Promise.all(
      versions.map(async ({ groupVersion, prefix }) => {
        const list = await get(prefix);
        for (const r of list.resources as any[]) {
          if (r.name.includes('/')) continue; // sub-resources
          mapper.resources.set(`${groupVersion}|${r.kind}`, { prefix, name: r.name, namespaced: r.namespaced });
        }
        mapper.groupVersions.add(groupVersion);
      }),
    );
    return mapper;
  }

  private readonly resources = new Map<string, Resource>();
  private readonly groupVersions = new Set<string>();

  private constructor() {}

  /** The resource serving `kind` in `apiVersion`, if the server serves it. */
  public find(apiVersion: string, kind: string): Resource | undefined {
    return this.resources.get(`${apiVersion}|${kind}`);
  }

  /** Whether the server serves the group version at all. */
  public servesGroupVersion(apiVersion: string): boolean {
    return this.groupVersions.has(apiVersion);
  }

  /** The versions in which the server serves `kind` of the group of `apiVersion`. */
  public versionsOf(apiVersion: string, kind: string): string[] {
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
    return [...this.resources.keys()]
      .map((k) => k.split('|'))
      .filter(([gv, k]) => k === kind && (gv.includes('/') ? gv.split('/')[0] : '') === group)
      .map(([gv]) => gv);
  }
}

/** The URL of an object (or of its collection when `name` is undefined). */
export function objectPath(resource: Resource, namespace: string | undefined, name?: string): string {
  const ns = resource.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? 'default')}` : '';
  return `${resource.prefix}${ns}/${resource.name}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}
