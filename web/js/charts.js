// Live time-series charts (uPlot, vendored under /vendor/uplot). A chart keeps the last
// MAX_POINTS samples and follows its container's width.
import uPlot from '../vendor/uplot/uPlot.esm.js';
import { h } from './dom.js';

const MAX_POINTS = 150;
const HEIGHT = 160;
const MIN_WIDTH = 240;
const COLORS = ['#1f4e8c', '#b3261e', '#2e7d32', '#6a1b9a'];

export class LiveChart {
  // series: [{label}], each sample is push(timeMs, [v0, v1, ...])
  constructor(title, series, { unit = '' } = {}) {
    this.title = title;
    this.data = [[], ...series.map(() => [])];
    this.el = h('figure.chart', { 'aria-label': title },
      h('figcaption', {}, title),
      this.holder = h('div.plot'),
      this.summary = h('p.visually-hidden', { 'aria-live': 'off' }));
    const opts = {
      width: MIN_WIDTH,
      height: HEIGHT,
      scales: { x: { time: true }, y: { range: (_u, lo, hi) => [Math.min(0, lo), Math.max(1, hi * 1.1)] } },
      axes: [{}, { label: unit, size: 50 }],
      legend: { live: false },
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: true, size: 4 } }))],
    };
    this.plot = new uPlot(opts, this.data, this.holder);
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(this.el);
  }

  resize() {
    const w = Math.max(MIN_WIDTH, Math.floor(this.el.clientWidth - 8));
    if (w !== this.plot.width) this.plot.setSize({ width: w, height: HEIGHT });
  }

  push(tMs, values) {
    this.data[0].push(tMs / 1000);
    values.forEach((v, i) => this.data[i + 1].push(v));
    if (this.data[0].length > MAX_POINTS) this.data.forEach((a) => a.shift());
    this.plot.setData(this.data);
    this.el.dataset.points = String(this.data[0].length);
    this.summary.textContent = `${this.title}: latest ${values.join(', ')}`;
  }

  destroy() {
    this.observer.disconnect();
    this.plot.destroy();
  }
}
