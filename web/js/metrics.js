// The instance page's charts: series of GET /v1/instances/{id}/metrics (scraped from every node
// by dfly-control, averaged per step), polled while the page is visible. A range selector picks
// the window; the API picks the step (about 300 points, never under the scrape interval).
import { get } from './api.js';
import { MetricsChart, alignSeries } from './charts.js';
import { clear, errorBox, fmtBytes, h } from './dom.js';

const POLL_MIN_MS = 2000; // never faster than this, whatever the scrape interval
const POLL_MAX_MS = 30000;
const RANGES = [
  { label: 'last 15 minutes', seconds: 15 * 60 },
  { label: 'last hour', seconds: 3600 },
  { label: 'last 6 hours', seconds: 6 * 3600 },
  { label: 'last 24 hours', seconds: 24 * 3600 },
];
const PERCENT = 100;
const LAG_SERIES = 'replication_lag_bytes';
const KIB = 1024; // a byte chart's axis reaches at least this high (ticks of whole bytes)

const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
const fmtNumber = (v) => compact.format(v);
const fmtPercent = (v) => `${Math.round(v * PERCENT)}%`;

// The charts: instance series by name, or one line per node of a node series (perNode).
const CHARTS = [
  { key: 'ops', title: 'Operations per second', names: ['ops_per_sec'], labels: ['ops/s'], format: fmtNumber },
  { key: 'memory', title: 'Memory used and limit', names: ['used_memory_bytes', 'memory_limit_bytes'], labels: ['used', 'limit'], format: fmtBytes, minTop: KIB },
  { key: 'hits', title: 'Hit ratio (reads that found their key)', names: ['hit_ratio'], labels: ['hit ratio'], format: fmtPercent, max: 1, empty: 'No reads yet.' },
  { key: 'clients', title: 'Connected clients', names: ['connected_clients'], labels: ['clients'], format: fmtNumber },
  { key: 'lag', title: 'Replication lag', perNode: LAG_SERIES, format: fmtBytes, minTop: KIB, empty: 'No replica has reported a lag (an instance without replicas has none).' },
];
const ALL_NAMES = [...new Set(CHARTS.flatMap((c) => c.names || [c.perNode]))];

// The [labels, pointLists] of one chart from the API's series.
function chartSeries(def, series) {
  if (def.perNode) {
    const mine = series.filter((s) => s.name === def.perNode && s.node_id);
    return [mine.map((s) => s.node_id), mine.map((s) => s.points)];
  }
  const found = def.names.map((n) => series.find((s) => s.name === n && !s.node_id));
  const labels = def.labels.filter((_, i) => found[i]);
  return [labels, found.filter(Boolean).map((s) => s.points)];
}

// Renders the charts into container and polls; returns a cleanup that stops everything.
export function metricsPanel(container, instanceId) {
  const charts = CHARTS.map((def) => ({ def, chart: new MetricsChart(def.title, { format: def.format, max: def.max ?? null, minTop: def.minTop ?? 1, empty: def.empty }) }));
  charts.forEach(({ def, chart }) => (chart.el.dataset.chart = def.key));
  const range = h('select#metrics-range', {}, RANGES.map((r, i) => h('option', { value: i }, r.label)));
  const info = h('p.help');
  const err = h('div');
  container.append(
    h('div.filters', {}, h('label', { for: 'metrics-range' }, 'Range'), range),
    info, err,
    h('div.charts', {}, charts.map((c) => c.chart.el)));

  let alive = true;
  let timer = null;
  let pollMs = POLL_MIN_MS;
  let generation = 0; // a newer load (range changed) makes an older answer moot
  const load = async () => {
    clearTimeout(timer);
    const mine = ++generation;
    const to = Math.floor(Date.now() / 1000);
    const q = new URLSearchParams({ names: ALL_NAMES.join(','), from: String(to - RANGES[range.value].seconds), to: String(to) });
    try {
      const { data } = await get(`/v1/instances/${encodeURIComponent(instanceId)}/metrics?${q}`);
      if (!alive || mine !== generation) return;
      clear(err);
      // The window starts where the data does (a young instance has no older points): every
      // chart shares it, so their times line up.
      const firsts = data.series.filter((x) => x.points.length).map((x) => x.points[0][0]);
      const window = [firsts.length ? Math.max(data.from, Math.min(...firsts)) : data.from, data.to];
      for (const { def, chart } of charts) {
        const [labels, lists] = chartSeries(def, data.series);
        const { times, columns } = alignSeries(lists);
        chart.set(labels, times, columns, window);
      }
      info.textContent = `Averaged over ${data.step} s steps (${data.resolution} points); nodes are scraped every ${data.scrape_interval_ms / 1000} s.`;
      pollMs = Math.min(POLL_MAX_MS, Math.max(POLL_MIN_MS, data.scrape_interval_ms));
    } catch (e) {
      if (!alive || mine !== generation) return;
      clear(err).append(errorBox(e));
    }
    if (alive && document.visibilityState === 'visible') timer = setTimeout(load, pollMs);
  };
  // A hidden tab stops polling; it catches up as soon as it is shown again.
  const onVisibility = () => {
    clearTimeout(timer);
    if (document.visibilityState === 'visible') load();
  };
  document.addEventListener('visibilitychange', onVisibility);
  range.addEventListener('change', load);
  load();
  return () => {
    alive = false;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisibility);
    charts.forEach((c) => c.chart.destroy());
  };
}
