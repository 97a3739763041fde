import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { FRAME_ANCESTORS } from './security-headers.ts';

// Beside this module: src/http/dashboard in a clone, dist/http/dashboard (copied by the build) in the package.
const here = path.dirname(fileURLToPath(import.meta.url));
// Chart.js ships a self-contained browser build; serving it from node_modules needs no bundler at run time.
const chartJs = path.join(path.dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: path.join(here, 'dashboard', 'index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: path.join(here, 'dashboard', 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: path.join(here, 'dashboard', 'dashboard.css'), type: 'text/css; charset=utf-8' },
  '/vendor/chart.umd.min.js': { file: chartJs, type: 'text/javascript; charset=utf-8' },
};

// Only this origin's scripts run; Chart.js sizes its canvases through inline styles.
const POLICY = `default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; ${FRAME_ANCESTORS}`;

/**
 * The operator's dashboard: a static page whose script asks for the admin token and reads /v1/dashboard with it,
 * so the page holds no data of its own and everything it shows is behind the token.
 */
export function registerDashboard(app: FastifyInstance): void {
  for (const [url, asset] of Object.entries(ASSETS)) {
    const body = readFileSync(asset.file);
    app.get(url, { schema: { hide: true } }, async (_request, reply) =>
      reply.type(asset.type).header('content-security-policy', POLICY).header('cache-control', 'no-cache').send(body),
    );
  }
}
