// A horizontal bar chart as server-rendered SVG: no script and no chart library in the browser,
// readable by screen readers (a title, and each bar labelled with its value). Values are plain
// numbers of one unit (litres, minor units) already formatted by the caller for the labels.

import { html, type Markup } from './html';

export interface Bar {
  readonly label: string;
  readonly value: number;
  readonly shown: string;
}

/** Bars drawn at most: a fleet has more vehicles, the page lists the rest in its table. */
export const chart_bars_max = 20;

export function barChart(title: string, bars: readonly Bar[]): Markup {
  const drawn = bars.slice(0, chart_bars_max);
  const max = Math.max(1, ...drawn.map((bar) => bar.value));
  const row_height = 28;
  const height = drawn.length * row_height + 8;
  const label_width = 140;
  const bar_width_max = 260;
  return html`<svg class="chart" role="img" aria-labelledby="chart-title" viewBox="0 0 ${label_width + bar_width_max + 120} ${height}">
    <title id="chart-title">${title}</title>
    ${drawn.map((bar, index) => {
      const y = index * row_height + 4;
      const width = Math.max(1, Math.round((bar.value / max) * bar_width_max));
      return html`<g
        ><text x="0" y="${y + 17}" class="chart-label">${bar.label}</text>
        <rect x="${label_width}" y="${y}" width="${width}" height="${row_height - 8}" class="chart-bar"></rect>
        <text x="${label_width + width + 6}" y="${y + 17}" class="chart-value">${bar.shown}</text></g
      >`;
    })}
  </svg>`;
}
