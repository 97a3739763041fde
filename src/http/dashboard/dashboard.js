// The operator's dashboard: reads /v1/dashboard with the admin token and draws it. The token stays in this tab
// (sessionStorage); it can also arrive in the address fragment (#token=...), which browsers never send to servers.

const TOKEN_KEY = 'mordomo-admin-token';
const charts = new Map();
const $ = (id) => document.getElementById(id);

function takeTokenFromFragment() {
  const match = /(?:^|&)token=([^&]+)/.exec(location.hash.slice(1));
  if (!match) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
  history.replaceState(null, '', location.pathname);
}

function showLogin(message) {
  $('dashboard').hidden = true;
  $('login').hidden = false;
  $('refresh').hidden = true;
  $('logout').hidden = true;
  $('status').textContent = 'signed out';
  $('login-error').hidden = !message;
  $('login-error').textContent = message || '';
}

function draw(id, config) {
  charts.get(id)?.destroy();
  charts.set(id, new Chart($(id), { ...config, options: { responsive: true, animation: false, ...config.options } }));
}

function fillTable(id, rows, cells) {
  const body = $(id).querySelector('tbody');
  body.replaceChildren();
  if (rows.length === 0) {
    const tr = body.insertRow();
    const td = tr.insertCell();
    td.colSpan = $(id).querySelectorAll('th').length;
    td.className = 'empty';
    td.textContent = 'nothing yet';
    return;
  }
  for (const row of rows) {
    const tr = body.insertRow();
    for (const [text, className] of cells(row)) {
      const td = tr.insertCell();
      td.textContent = text; // never innerHTML: the data is user content
      if (className) td.className = className;
    }
  }
}

const STATUS_COLOURS = { success: '#12b76a', failed: '#f04438', executing: '#f79009', pending: '#98a2b3' };
const megabytes = (bytes) => (bytes < 1048576 ? `${(bytes / 1024).toFixed(0)} KB` : `${(bytes / 1048576).toFixed(1)} MB`);
const when = (iso) => new Date(iso).toLocaleString();

function render(report) {
  draw('chart-messages', {
    type: 'bar',
    data: {
      labels: report.messagesPerDay.map((r) => r.day.slice(5)),
      datasets: [{ label: 'messages', data: report.messagesPerDay.map((r) => r.messages), backgroundColor: '#2e90fa' }],
    },
    options: { plugins: { legend: { display: false } } },
  });
  draw('chart-intents', {
    type: 'bar',
    data: {
      labels: report.topIntents.map((r) => r.intent),
      datasets: [
        { label: 'count', data: report.topIntents.map((r) => r.count), backgroundColor: '#7a5af8', xAxisID: 'x' },
        { label: 'mean confidence', data: report.topIntents.map((r) => r.avg_confidence), backgroundColor: '#fdb022', xAxisID: 'confidence' },
      ],
    },
    options: { indexAxis: 'y', scales: { x: { position: 'bottom' }, confidence: { position: 'top', min: 0, max: 1 } } },
  });
  draw('chart-latency', {
    type: 'bar',
    data: {
      labels: report.latencyBySource.map((r) => r.source),
      datasets: [
        { label: 'mean ms', data: report.latencyBySource.map((r) => r.avg_latency_ms), backgroundColor: '#12b76a' },
        { label: 'max ms', data: report.latencyBySource.map((r) => r.max_latency_ms), backgroundColor: '#f04438' },
      ],
    },
  });
  draw('chart-users', {
    type: 'bar',
    data: {
      labels: report.activeUsers.map((r) => r.name),
      datasets: [
        { label: 'messages', data: report.activeUsers.map((r) => r.messages), backgroundColor: '#2e90fa' },
        { label: 'conversations', data: report.activeUsers.map((r) => r.conversations), backgroundColor: '#53b1fd' },
      ],
    },
  });
  const outcomes = Object.fromEntries(report.actionOutcomes.map((r) => [r.status, r.actions]));
  const finished = (outcomes.success ?? 0) + (outcomes.failed ?? 0);
  $('action-rate').textContent = finished ? `${((100 * (outcomes.success ?? 0)) / finished).toFixed(1)}% succeeded` : 'no finished actions';
  draw('chart-actions', {
    type: 'doughnut',
    data: {
      labels: report.actionOutcomes.map((r) => r.status),
      datasets: [
        { data: report.actionOutcomes.map((r) => r.actions), backgroundColor: report.actionOutcomes.map((r) => STATUS_COLOURS[r.status] ?? '#98a2b3') },
      ],
    },
  });
  const sizes = report.databaseSize;
  $('db-size').textContent = sizes.length ? megabytes(Number(sizes[sizes.length - 1].bytes)) : '';
  draw('chart-size', {
    type: 'line',
    data: {
      labels: sizes.map((r) => r.day),
      datasets: [{ label: 'MB', data: sizes.map((r) => Number(r.bytes) / 1048576), borderColor: '#2e90fa', fill: false }],
    },
    options: { plugins: { legend: { display: false } } },
  });
  fillTable('table-reminders', report.upcomingReminders, (r) => [[when(r.scheduled_at)], [r.title]]);
  fillTable('table-backups', report.backups, (b) => [
    [when(b.created_at)],
    [megabytes(b.bytes)],
    b.verified === null ? ['not verified'] : b.verified ? ['passed', 'ok'] : ['FAILED', 'error'],
  ]);
  fillTable('table-slow', report.slowQueries, (q) => [[String(q.mean_ms)], [String(q.calls)], [q.query, 'statement']]);
}

async function load() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return showLogin();
  $('status').textContent = 'loading…';
  let response;
  try {
    response = await fetch('/v1/dashboard', { headers: { authorization: `Bearer ${token}` } });
  } catch {
    $('status').textContent = 'the service is unreachable';
    return;
  }
  if (response.status === 401 || response.status === 429) {
    sessionStorage.removeItem(TOKEN_KEY);
    const { error } = await response.json();
    return showLogin(error.message);
  }
  if (!response.ok) {
    $('status').textContent = `could not load (${response.status})`;
    return;
  }
  render(await response.json());
  $('login').hidden = true;
  $('dashboard').hidden = false;
  $('refresh').hidden = false;
  $('logout').hidden = false;
  $('status').textContent = `updated ${new Date().toLocaleTimeString()}`;
  document.body.dataset.loaded = 'true';
}

$('login').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
  void load();
});
$('refresh').addEventListener('click', () => void load());
$('logout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin();
});

takeTokenFromFragment();
void load();
setInterval(() => {
  if (!$('dashboard').hidden) void load();
}, 60_000);
