// Proves where the simulated PSP may come from. The production entry point
// (dist/services/authorizer/main.js, what the image and the Helm chart run) carries Mollie, whose
// payments arrive by webhook, never by signed callback, so TAPLINE_PSP_SECRET makes it refuse to
// start with a plain message and exit status 2 instead of opening a door that credits cards to
// whoever holds the secret; an in-process node started without an integration that signs
// callbacks refuses the same way; TAPLINE_PSP_PROVIDER=mollie without its settings, or on an entry
// point that does not carry Mollie, is refused too. And no compiled production module
// (dist/services, dist/actors) loads anything from dist/tools, so the image can leave tools/ out.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { loadConfig } from '../../services/authorizer/config';
import { AuthorizerNode, checkNodeOptions } from '../../services/authorizer/node';
import { ConfigError } from '../../services/common/process';
import { createLogger } from '../../services/common/logger';
import { projectRoot } from '../../services/common/paths';
import { simulatedPsp } from '../../tools/psp-simulator/simulated-psp';
import { nodeEnv } from '../support/harness';
import { mollie_integration } from '../../services/authorizer/psp/mollie';

/** The production entry point refuses its configuration before it connects to anything. */
const refusal_timeout_ms = 15_000;

/** Runs main.js with the test credentials' door settings (so only the setting under test is wrong). */
async function runProductionMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  // Unused: the refusal comes first. A closed port, so a regression cannot reach a real Redis.
  const secure = await nodeEnv('redis://127.0.0.1:1', { TAPLINE_METRICS_PORT: '-1' });
  const child = spawn(process.execPath, [join(projectRoot(), 'dist/services/authorizer/main.js')], {
    env: { ...process.env, ...secure, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolveExit, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`main.js: expected an exit within ${refusal_timeout_ms} ms; stderr so far: ${stderr}`));
    }, refusal_timeout_ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveExit({ code, stderr });
    });
  });
}

function compiledModules(folder: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) found.push(...compiledModules(path));
    else if (entry.name.endsWith('.js')) found.push(path);
  }
  return found;
}

describe('entry points and the PSP integration', function () {
  this.timeout(30_000);
  const psp_secret = 'entry-point-psp-secret-0123';

  it('the production entry point refuses TAPLINE_PSP_SECRET with a plain message and status 2', async () => {
    const { code, stderr } = await runProductionMain({
      TAPLINE_PSP_SECRET: psp_secret,
      // Unused: the refusal comes first. A closed port, so a regression cannot reach a real Redis.
      TAPLINE_REDIS_URL: 'redis://127.0.0.1:1',
      TAPLINE_GRPC_PORT: '0',
      TAPLINE_INTERNAL_PORT: '0',
      TAPLINE_METRICS_PORT: '-1',
    });
    assert.equal(code, 2, `exit status; stderr: ${stderr}`);
    assert.match(stderr, /TAPLINE_PSP_SECRET is set but this entry point has no PSP integration that signs callbacks/);
    assert.ok(!stderr.includes(psp_secret), 'the secret is never printed');
  });

  it('the production entry point refuses TAPLINE_PSP_PROVIDER=mollie without its settings, never printing the key', async () => {
    const key = 'live_entryPointKey0123456789';
    const { code, stderr } = await runProductionMain({
      TAPLINE_PSP_PROVIDER: 'mollie',
      TAPLINE_MOLLIE_API_KEY: key,
      TAPLINE_REDIS_URL: 'redis://127.0.0.1:1',
      TAPLINE_GRPC_PORT: '0',
      TAPLINE_INTERNAL_PORT: '0',
      TAPLINE_METRICS_PORT: '-1',
    });
    assert.equal(code, 2, `exit status; stderr: ${stderr}`);
    assert.match(stderr, /TAPLINE_PSP_PROVIDER=mollie needs TAPLINE_PSP_WEBHOOK_URL/);
    assert.ok(!stderr.includes(key), 'the API key is never printed');
  });

  it('a node is startable with a PSP secret only when a PSP adapter is injected', async () => {
    const secure = await nodeEnv('redis://127.0.0.1:1');
    const withSecret = loadConfig({ ...secure, TAPLINE_PSP_SECRET: psp_secret });
    assert.throws(() => checkNodeOptions(withSecret, {}), ConfigError);
    assert.doesNotThrow(() => checkNodeOptions(withSecret, { psp: simulatedPsp }));
    assert.throws(() => checkNodeOptions(withSecret, { psp: mollie_integration }), ConfigError, 'Mollie signs no callbacks');
    assert.doesNotThrow(() => checkNodeOptions(loadConfig(secure), {}), 'no secret: no PSP needed');
    const mollie = loadConfig({
      ...secure,
      TAPLINE_PSP_PROVIDER: 'mollie',
      TAPLINE_MOLLIE_API_KEY: 'test_entryPointKey0123456789',
      TAPLINE_PSP_WEBHOOK_URL: 'https://pay.example.org/psp/mollie',
      TAPLINE_PSP_REDIRECT_URL: 'https://example.org/thanks',
      TAPLINE_PSP_WEBHOOK_PORT: '0',
    });
    assert.doesNotThrow(() => checkNodeOptions(mollie, { psp: mollie_integration }));
    assert.throws(() => checkNodeOptions(mollie, { psp: simulatedPsp }), ConfigError, 'an entry point without Mollie');
    // The same check guards in-process starts, before anything is connected.
    await assert.rejects(AuthorizerNode.start(withSecret, createLogger('entry-test', 'silent')), ConfigError);
  });

  it('no compiled production module loads anything from tools/', () => {
    const root = resolve(projectRoot(), 'dist');
    const tools = join(root, 'tools');
    const offenders: string[] = [];
    for (const folder of ['services', 'actors']) {
      for (const file of compiledModules(join(root, folder))) {
        for (const match of readFileSync(file, 'utf8').matchAll(/require\("(\.[^"]+)"\)/g)) {
          const target = resolve(dirname(file), match[1] as string);
          if (target === tools || target.startsWith(`${tools}/`)) offenders.push(`${relative(root, file)} -> ${match[1]}`);
        }
      }
    }
    assert.deepEqual(offenders, []);
  });
});
