// Time-series charts of the metrics API (uPlot, vendored under /vendor/uplot). A chart is given
// whole series (times in Unix seconds, values with null for gaps) on every poll and follows its
// container's width. Its series may change (a replica added): the plot is rebuilt then.
import uPlot from '../vendor/uplot/uPlot.esm.js';
import { h } from './dom.js';

const HEIGHT = 170;
const MIN_WIDTH = 240;
const AXIS_SIZE = 64;
const COLORS = ['#1f4e8c', '#b3261e', '#2e7d32', '#6a1b9a', '#8a5300'];
const HEADROOM = 1.1; // the y axis goes a little above the highest value
const DOTS_MAX = 60; // sparse series (a few points in the window) get dots, or one would not show

// title: the caption; opts.format(v) -> text for the axis and the summary; opts.max: a fixed
// top of the y axis (hit ratio: 1); opts.minTop: the lowest top of the y axis (so that a flat
// zero line has sensible ticks); opts.empty: what to say while there is no data.
export class MetricsChart {
  constructor(title, { format = (v) => String(v), max = null, minTop = 1, empty = 'No data yet.' } = {}) {
    this.title = title;
    this.format = format;
    this.max = max;
    this.minTop = minTop;
    this.window = [0, 1]; // the x range [from, to] in Unix seconds: the window asked for
    this.emptyText = empty;
    this.labels = null;
    this.plot = null;
    this.el = h('figure.chart', { 'aria-label': title, dataset: { points: '0' } },
      h('figcaption', {}, title),
      this.holder = h('div.plot'),
      this.note = h('p.help.chart-empty', {}, empty),
      this.summary = h('p.visually-hidden'));
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(this.el);
  }

  width() {
    return Math.max(MIN_WIDTH, Math.floor(this.el.clientWidth - 8));
  }

  build(labels) {
    if (this.plot) this.plot.destroy();
    this.labels = labels;
    const fmt = this.format;
    const { max, minTop } = this;
    const sparse = (u, i) => u.data[i].filter((v) => v !== null && v !== undefined).length <= DOTS_MAX;
    const opts = {
      width: this.width(),
      height: HEIGHT,
      scales: {
        x: { time: true, range: () => this.window },
        y: { range: (_u, lo, hi) => [Math.min(0, lo ?? 0), max ?? Math.max(minTop, (hi ?? 0) * HEADROOM)] },
      },
      axes: [{}, { size: AXIS_SIZE, values: (_u, splits) => splits.map(fmt) }],
      legend: { live: false },
      // A missed scrape is not a drop to zero: lines span the gaps.
      series: [{}, ...labels.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, points: { show: sparse, size: 5 } }))],
    };
    this.plot = new uPlot(opts, [[], ...labels.map(() => [])], this.holder);
  }

  resize() {
    if (this.plot && this.width() !== this.plot.width) this.plot.setSize({ width: this.width(), height: HEIGHT });
  }

  // labels: a name per series; times: Unix seconds; columns: one array per series (aligned with
  // times, null where a series has no point); window: [from, to] shown. No series at all shows
  // the empty note.
  set(labels, times, columns, window = this.window) {
    this.window = window;
    const points = columns.reduce((n, c) => n + c.filter((v) => v !== null && v !== undefined).length, 0);
    this.el.dataset.points = String(points);
    this.note.hidden = points > 0;
    if (!labels.length) {
      if (this.plot) this.plot.destroy();
      this.plot = null;
      this.labels = null;
      this.summary.textContent = `${this.title}: ${this.emptyText}`;
      return;
    }
    if (!this.labels || this.labels.join('\n') !== labels.join('\n')) this.build(labels);
    this.plot.setData([times, ...columns]);
    const latest = columns.map((c, i) => {
      const v = [...c].reverse().find((x) => x !== null && x !== undefined);
      return `${labels[i]} ${v === undefined ? '—' : this.format(v)}`;
    });
    this.summary.textContent = `${this.title}, latest: ${latest.join(', ')}`;
  }

  setEmpty(text) {
    this.note.textContent = text;
    this.set([], [], [], this.window);
  }

  destroy() {
    this.observer.disconnect();
    if (this.plot) this.plot.destroy();
  }
}

// Aligns series of [time, value] points on one time axis: {times, columns} with null where a
// series has no point at a time (uPlot draws a gap there).
export function alignSeries(pointLists) {
  const times = [...new Set(pointLists.flatMap((pts) => pts.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = pointLists.map((pts) => {
    const col = new Array(times.length).fill(null);
    for (const [t, v] of pts) col[index.get(t)] = v;
    return col;
  });
  return { times, columns };
}
