// Needs Debian's `chromium`: run by `npm run test:system`. The screenshot lands in test-artifacts/dashboard.png.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { chromium, type Page } from 'playwright-core';
import { createBackup } from '../../src/ops/backup.ts';
import { recordVerification } from '../../src/ops/backup-files.ts';
import { testService } from '../harness/service.ts';

const ARTIFACTS = path.join(import.meta.dirname, '..', '..', 'test-artifacts');
const api = await testService('dashboard');

// A week of a household: two people, intents with confidences, latencies from three containers, actions.
const people = [(await api.call('POST', '/v1/users', { body: { name: 'Ana' } })).body, (await api.call('POST', '/v1/users', { body: { name: 'Bruno' } })).body];
for (let i = 0; i < 12; i++) {
  const conversation = (await api.call('POST', '/v1/conversations', { body: { user_id: people[i % 2].id } })).body;
  const turn = await api.call('POST', `/v1/conversations/${conversation.id}/turns`, {
    body: {
      user: { content: `pedido ${i}`, intent: ['lights.on', 'weather', 'music.play'][i % 3], confidence: 0.6 + (i % 4) / 10 },
      assistant: { content: `feito ${i}`, latency_ms: 150 + i * 20, metadata: { source: ['brain', 'stt', 'tts'][i % 3] } },
    },
  });
  const action = (
    await api.call('POST', '/v1/actions', { body: { message_id: turn.body.messages[0].id, action_type: 'ha', action_name: 'light.turn_on', parameters: {} } })
  ).body;
  await api.call('POST', `/v1/actions/${action.id}/transition`, { body: { status: 'executing' } });
  await api.call('POST', `/v1/actions/${action.id}/transition`, {
    body: { status: i % 4 ? 'success' : 'failed', error_message: i % 4 ? undefined : 'offline' },
  });
}
await api.database.pool.query(
  `INSERT INTO database_size_history (sampled_on, bytes) SELECT current_date - d, 8000000 + d * -50000 FROM generate_series(1, 5) d`,
);
await api.call('POST', '/v1/reminders', { body: { title: 'regar as plantas', scheduled_at: new Date(Date.now() + 3600_000).toISOString() } });
recordVerification((await createBackup(api.database.pool, { outDir: `${api.dataDir}/backups` })).file, true);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
after(() => browser.close());

async function open(fragment = ''): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${api.base}/${fragment}`);
  return { page, problems };
}

test('with the token the dashboard draws every chart from seeded data, without console errors', async () => {
  const { page, problems } = await open(`#token=${encodeURIComponent(api.token)}`);
  await page.waitForSelector('body[data-loaded="true"]', { timeout: 20_000 });
  assert.equal(new URL(page.url()).hash, '', 'the token is taken out of the address bar');
  const charts = await page.evaluate(() => {
    const sums: Record<string, number> = {};
    for (const canvas of document.querySelectorAll('canvas')) {
      const chart = (window as unknown as { Chart: { getChart(c: Element): { data: { datasets: { data: number[] }[] } } | undefined } }).Chart.getChart(canvas);
      sums[canvas.id] = chart ? chart.data.datasets.flatMap((d) => d.data).reduce((a, b) => a + Number(b || 0), 0) : -1;
      // A drawn canvas has non-blank pixels.
      const context = (canvas as HTMLCanvasElement).getContext('2d')!;
      const pixels = context.getImageData(0, 0, (canvas as HTMLCanvasElement).width, (canvas as HTMLCanvasElement).height).data;
      if (!pixels.some((v, i) => i % 4 === 3 && v > 0)) sums[canvas.id] = -2;
    }
    return sums;
  });
  assert.deepEqual(Object.keys(charts).sort(), ['chart-actions', 'chart-intents', 'chart-latency', 'chart-messages', 'chart-size', 'chart-users']);
  for (const [id, sum] of Object.entries(charts)) assert.ok(sum > 0, `${id} has data and is drawn (${sum})`);
  assert.equal(await page.textContent('#action-rate'), '75.0% succeeded');
  assert.match((await page.textContent('#table-reminders tbody'))!, /regar as plantas/);
  assert.match((await page.textContent('#table-backups tbody'))!, /passed/);
  assert.ok((await page.locator('#table-slow tbody tr').count()) > 0);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test("without a token the page asks for it, and a wrong one is refused with the API's message", async () => {
  const { page, problems } = await open();
  await page.waitForSelector('#login:not([hidden])');
  assert.equal(await page.isVisible('#dashboard'), false);
  await page.fill('#token', 'not-the-token');
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#login-error:not([hidden])');
  assert.match((await page.textContent('#login-error'))!, /invalid credentials/);
  await page.fill('#token', api.token);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('body[data-loaded="true"]');
  // The one console error allowed: the browser's own note of the refused request.
  assert.ok(
    problems.every((p) => /401/.test(p)),
    problems.join('\n'),
  );
  await page.close();
});

test('user content is shown as text, never run as markup', async () => {
  await api.call('POST', '/v1/reminders', {
    body: { title: '<img src=x onerror="document.body.dataset.pwned=1">', scheduled_at: new Date(Date.now() + 60_000).toISOString() },
  });
  const { page } = await open(`#token=${encodeURIComponent(api.token)}`);
  await page.waitForSelector('body[data-loaded="true"]');
  assert.match((await page.textContent('#table-reminders tbody'))!, /<img src=x/);
  assert.equal(await page.evaluate(() => document.body.dataset.pwned), undefined);
  await page.close();
});
