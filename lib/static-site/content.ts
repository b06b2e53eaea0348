/**
 * StaticSite's content: the checks every file of a site passes, whether it
 * comes from the `files` prop or from `addFiles`. One function, so the prop
 * and the verb refuse the same input with the same message.
 */
import { FileEntry, StoredFile, isUtf8Text, toConfigMapData } from '../files';
import { FALLBACK_CONTENT_TYPE } from './nginx-conf';

/** Paths that look like secrets, refused unless allowSecretFiles. */
const SECRET_FILE = new RegExp(
  '(^|/)(\\.env(\\.[^/]*)?|[^/]*\\.(pem|key|p12|pfx|jks|keystore)|id_(rsa|dsa|ecdsa|ed25519)' +
    '|\\.htpasswd|\\.netrc|\\.npmrc|\\.pgpass)$|(^|/)\\.(git|aws|ssh)/',
);
/** Types nginx serves with charset=utf-8 (text/*, JSON, XML, JavaScript, YAML, SVG). */
const TEXT_TYPES = /^(text\/|application\/(json|manifest\+json|xml|rss\+xml|atom\+xml|yaml|javascript)$|image\/svg\+xml$)/;
/** Types whose files are always stored in `binaryData`; other files go there only when they are not UTF-8 text. */
const BINARY_TYPES = /^(image\/(?!svg\+xml$)|font\/|audio\/|video\/|application\/(wasm|pdf|zip|vnd\.ms-fontobject)$)/;

/** What the content is checked against: the resolved nginx settings. */
export interface ContentRules {
  readonly contentTypes: Readonly<Record<string, string>>;
  readonly allowSecretFiles: boolean;
  readonly indexDocument: string;
  readonly notFoundDocument?: string;
  readonly healthPath: string;
}

/** A site's files, checked and turned into ConfigMap data. */
export interface SiteContent {
  /** Every file as read (for `addFiles`, which checks old and new together). */
  readonly entries: readonly FileEntry[];
  readonly data: Record<string, string>;
  readonly binaryData: Record<string, string>;
  /** Every served file, sorted by path, with its Content-Type. */
  readonly files: readonly StoredFile[];
  /** Bytes the content ConfigMap counts against the 1 MiB limit. */
  readonly sizeBytes: number;
}

/** The Content-Type nginx sends for a path, by its extension. */
export function contentTypeOf(filePath: string, types: Readonly<Record<string, string>>): string {
  const base = filePath.split('/').pop()!;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? (types[base.slice(dot + 1).toLowerCase()] ?? FALLBACK_CONTENT_TYPE) : FALLBACK_CONTENT_TYPE;
}

function describePaths(files: readonly StoredFile[]): string {
  const shown = files
    .slice(0, 5)
    .map((f) => `"${f.path}"`)
    .join(', ');
  return files.length > 5 ? `${shown} and ${files.length - 5} more` : shown;
}

/**
 * Checks the whole content of a site (size, duplicates, secret-looking files,
 * UTF-8 text, the index and 404 documents, the health path) and turns it into
 * ConfigMap data. Errors name the prop `files`.
 */
export function resolveSiteContent(entries: readonly FileEntry[], rules: ContentRules): SiteContent {
  if (entries.length === 0) {
    throw new Error(
      `files must hold at least one file (the site serves indexDocument "${rules.indexDocument}" for "/"), got none: ` +
        'give Files.fromDirectory(dir) or Files.fromContent({ ... })',
    );
  }
  if (!rules.allowSecretFiles) {
    const secret = entries.find((f) => SECRET_FILE.test(f.path.replace(/^\/+/, '')));
    if (secret) {
      throw new Error(
        `files entry "${secret.path}" (from ${secret.origin}) looks like a secret and would be served to anyone: ` +
          'remove it from the files, or set allowSecretFiles: true if it is meant to be public',
      );
    }
  }
  const stored = toConfigMapData(entries, 'files', {
    binary: (f) => {
      const type = contentTypeOf(f.path, rules.contentTypes);
      if (BINARY_TYPES.test(type)) return true;
      if (TEXT_TYPES.test(type) && !f.inlineText && !isUtf8Text(f.bytes)) {
        throw new Error(
          `files entry "${f.path}" (from ${f.origin}) is ${type} but not valid UTF-8, and nginx serves it as charset=utf-8: ` +
            're-save it as UTF-8 (for example iconv -f latin1 -t utf-8)',
        );
      }
      return false;
    },
    tooLargeHint: 'serve large assets (images, video, fonts) from object storage or a CDN, split the site, or build an image with the files baked in',
  });
  const files = stored.files.map((f) => ({ ...f, contentType: contentTypeOf(f.path, rules.contentTypes) }));
  const paths = new Set(files.map((f) => f.path));
  if (!paths.has(rules.indexDocument)) {
    throw new Error(
      `indexDocument "${rules.indexDocument}" must be a file at the top of the files (it is served for "/"), ` + `got files ${describePaths(files)}`,
    );
  }
  if (rules.notFoundDocument !== undefined && !paths.has(rules.notFoundDocument)) {
    throw new Error(`notFoundDocument must be a path in the files, got "${rules.notFoundDocument}" (files has ${describePaths(files)})`);
  }
  const shadowed = rules.healthPath.slice(1);
  if (paths.has(shadowed) || files.some((f) => f.path.startsWith(`${shadowed}/`))) {
    throw new Error(`healthPath "${rules.healthPath}" would hide the files path "${shadowed}": choose another healthPath`);
  }
  return { entries: [...entries], data: stored.data, binaryData: stored.binaryData, files, sizeBytes: stored.sizeBytes };
}
