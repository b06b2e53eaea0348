/**
 * Runtime proof in a real browser: Debian's chromium opens the seed page that
 * real nginx serves from the synthesized chart (container command, user,
 * ConfigMap volumes, read-only root: see fixtures/static-site/nginx-pod.ts)
 * and runs its script.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import { BrowserContext, chromium } from 'playwright-core';
import * as YAML from 'yaml';
import { StaticSiteChart } from '../charts/static-site';
import { NGINX, RunningPod, startPod } from './fixtures/static-site/nginx-pod';
import { K8sObject } from '../lib/testing';
import { requirePrograms } from './support/pod-sandbox';
import { findObject } from './support/synth';

const CHROMIUM = '/usr/bin/chromium';

let pod: RunningPod | undefined;
let browser: BrowserContext | undefined;
let profile: string | undefined;

beforeAll(async () => {
  requirePrograms(NGINX, CHROMIUM);
  // GIVEN the seed chart, synthesized to YAML and parsed back
  const app = Testing.app();
  new StaticSiteChart(app, 'static-site');
  const objects: K8sObject[] = YAML.parseAllDocuments(app.synthYaml())
    .map((d) => d.toJSON())
    .filter(Boolean);
  const dep = findObject(objects, 'Deployment', 'nginx');
  // WHEN nginx runs it and chromium opens it
  pod = await startPod(objects, 'nginx', dep.spec.template.spec.containers[0].readinessProbe.httpGet.path);
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'static-site-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60000);

afterAll(async () => {
  await browser?.close();
  await pod?.stop();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

async function heading(query: string): Promise<{ text: string; errors: string[] }> {
  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    const res = await page.goto(`${pod!.baseUrl}/${query}`, { waitUntil: 'load', timeout: 15000 });
    expect(res?.status()).toBe(200);
    return { text: (await page.locator('h1').innerText({ timeout: 5000 })).trim(), errors };
  } finally {
    await page.close();
  }
}

describe('the seed page in chromium', () => {
  test('greets the name from the query string', async () => {
    // THEN the script replaced the heading
    expect(await heading('?name=Smarty')).toEqual({ text: 'Hello Smarty from the Cloud', errors: [] });
  });

  test('keeps the plain greeting without a name', async () => {
    expect(await heading('')).toEqual({ text: 'Hello from the Cloud', errors: [] });
  });

  test('decodes the name and shows markup as text, not HTML', async () => {
    expect(await heading('?name=%3Cb%3EAda%20Lovelace%3C%2Fb%3E')).toEqual({ text: 'Hello <b>Ada Lovelace</b> from the Cloud', errors: [] });
  });
});
