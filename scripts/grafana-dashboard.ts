// Writes deploy/grafana/dashboards/mordomo.json: the panels of the service's own dashboard page, for Grafana, from
// the same SQL (src/ops/reports.ts) and metrics. Usage: npx tsx scripts/grafana-dashboard.ts [--verify]
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MONITOR_QUERIES } from '../src/ops/monitor.ts';
import { REPORT_QUERIES } from '../src/ops/reports.ts';

export const DASHBOARD_FILE = path.join(import.meta.dirname, '..', 'deploy', 'grafana', 'dashboards', 'mordomo.json');

const postgres = { type: 'grafana-postgresql-datasource', uid: 'mordomo-postgres' };
const prometheus = { type: 'prometheus', uid: 'prometheus' };

type Panel = Record<string, unknown>;

function sqlPanel(title: string, type: string, rawSql: string, gridPos: Panel, extra: Panel = {}): Panel {
  return {
    title,
    type,
    datasource: postgres,
    gridPos,
    targets: [{ refId: 'A', datasource: postgres, format: 'table', rawQuery: true, editorMode: 'code', rawSql: rawSql.trim() }],
    ...extra,
  };
}

function promPanel(title: string, type: string, exprs: Record<string, string>, gridPos: Panel, unit?: string): Panel {
  const targets = Object.entries(exprs).map(([legendFormat, expr], i) => ({ refId: String.fromCharCode(65 + i), datasource: prometheus, expr, legendFormat }));
  return { title, type, datasource: prometheus, gridPos, targets, fieldConfig: { defaults: unit ? { unit } : {}, overrides: [] } };
}

/** The dashboard: the page's panels first (same order), then the server's health from /metrics. */
export function grafanaDashboard(): Panel {
  const at = (x: number, y: number, w: number, h = 8) => ({ x, y, w, h });
  const panels: Panel[] = [
    sqlPanel('Messages per day (30 days)', 'barchart', REPORT_QUERIES.messagesPerDay, at(0, 0, 24)),
    sqlPanel('Top intents (30 days)', 'barchart', REPORT_QUERIES.topIntents, at(0, 8, 8), { options: { orientation: 'horizontal' } }),
    sqlPanel('Latency per source', 'barchart', REPORT_QUERIES.latencyBySource, at(8, 8, 8)),
    sqlPanel('Most active users (7 days)', 'barchart', REPORT_QUERIES.activeUsers, at(16, 8, 8)),
    sqlPanel('Actions (30 days)', 'piechart', REPORT_QUERIES.actionOutcomes, at(0, 16, 8)),
    sqlPanel('Database size', 'barchart', REPORT_QUERIES.databaseSize, at(8, 16, 16), { fieldConfig: { defaults: { unit: 'bytes' }, overrides: [] } }),
    sqlPanel('Upcoming reminders', 'table', REPORT_QUERIES.upcomingReminders, at(0, 24, 12)),
    promPanel(
      'Last backups',
      'stat',
      {
        'age of the newest': 'mordomo_backup_last_age_seconds',
        'size of the newest': 'mordomo_backup_last_size_bytes',
        'verified (1 passed, 0 failed, -1 not yet)': 'mordomo_backup_last_verified',
      },
      at(12, 24, 12),
    ),
    sqlPanel('Slowest statements', 'table', MONITOR_QUERIES.slow, at(0, 32, 24)),
    promPanel('PostgreSQL up', 'stat', { up: 'pg_up' }, at(0, 40, 4, 6)),
    promPanel('Connections by state', 'timeseries', { '{{state}}': 'pg_stat_activity_connections' }, at(4, 40, 10, 6)),
    promPanel(
      'HTTP requests per second by route',
      'timeseries',
      { '{{route}} {{status}}': 'sum by (route, status) (rate(mordomo_http_request_duration_seconds_count[5m]))' },
      at(14, 40, 10, 6),
      'reqps',
    ),
    promPanel(
      'HTTP p95 latency',
      'timeseries',
      { '{{route}}': 'histogram_quantile(0.95, sum by (route, le) (rate(mordomo_http_request_duration_seconds_bucket[5m])))' },
      at(0, 46, 12, 6),
      's',
    ),
    promPanel(
      'Cache hit ratio, longest transaction, replication lag',
      'timeseries',
      {
        'cache hit ratio': 'mordomo_cache_hit_ratio',
        'longest transaction (s)': 'mordomo_longest_transaction_seconds',
        'replication lag (s)': 'mordomo_replication_lag_seconds',
      },
      at(12, 46, 12, 6),
    ),
  ];
  return {
    uid: 'mordomo-db',
    title: 'Mordomo',
    tags: ['mordomo', 'postgresql'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    refresh: '1m',
    time: { from: 'now-7d', to: 'now' },
    panels: panels.map((panel, id) => ({ id: id + 1, ...panel })),
  };
}

export const dashboardText = () => `${JSON.stringify(grafanaDashboard(), null, 2)}\n`;

if (process.argv[1] === import.meta.filename) {
  if (process.argv.includes('--verify')) {
    const current = readFileSync(DASHBOARD_FILE, 'utf8');
    if (current !== dashboardText()) {
      process.stderr.write(`${DASHBOARD_FILE} is out of date: run npx tsx scripts/grafana-dashboard.ts\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(DASHBOARD_FILE, dashboardText());
  }
}
