// Charts of recorded episodes, drawn by uPlot (static/vendor/uplot/): the return
// and the length of each finished episode in two panels that share their x axis
// and cursor, with a moving average once there are enough episodes for one to be
// worth reading. The instance page charts an instance's episodes by number and
// extends the chart as they finish; the admin charts an instance's, or every
// instance's of one environment id, over time. Hovering shows an episode's values
// in each panel's legend; a click hands the episode under the cursor to onPick.
// Numbers are spelled by formatNumber (live-view.js), as everywhere in the pages.

const EPISODE_CHART_COLOURS = { return: "#2456c7", steps: "#d9730d" };
let episodeChartCount = 0;

function movingAverage(values, window) {
  const averages = [];
  let sum = 0;
  values.forEach((value, index) => {
    sum += value;
    if (index >= window) sum -= values[index - window];
    averages.push(sum / Math.min(index + 1, window));
  });
  return averages;
}

// Finished episodes only: a running one has no final return yet.
function finishedEpisodes(rows) {
  return rows.filter((row) => row.outcome !== "running" && typeof row.return === "number");
}

class EpisodeChart {
  // container: an element of its own, whose width the chart takes.
  // time: x is when each episode ended (row.ended, ISO 8601) rather than its number.
  // onPick(row): called with the episode under the cursor when the chart is clicked.
  constructor(container, { time = false, panelHeight = 170, onPick = null } = {}) {
    this.container = container;
    this.time = time;
    this.panelHeight = panelHeight;
    this.onPick = onPick;
    this.rows = [];
    this.plots = [];
    this.syncKey = `episode-chart-${++episodeChartCount}`;
    this.empty = document.createElement("div");
    this.empty.className = "chart-empty";
    this.empty.textContent = "No finished episodes yet: the chart fills in as episodes end.";
    this.container.append(this.empty);
    // Follow the container's width (a window resized, a phone turned).
    new ResizeObserver(() => this.resize()).observe(this.container);
  }

  // rows: [{number, steps, return, outcome, ended?}, ...] as GET /v1/envs/{id}/episodes/ gives them.
  update(rows) {
    const finished = finishedEpisodes(rows).map((row) => ({ ...row, x: this.xOf(row) }));
    finished.sort((a, b) => a.x - b.x);
    this.rows = finished;
    this.container.dataset.episodes = String(finished.length);
    this.empty.hidden = finished.length > 0;
    if (!finished.length) {
      this.destroy();
      return;
    }
    const window = finished.length >= 10 ? Math.max(3, Math.round(finished.length / 10)) : 0;
    const panels = [
      { key: "return", label: "Return per episode", values: finished.map((row) => row.return) },
      { key: "steps", label: "Length per episode (steps)", values: finished.map((row) => row.steps) },
    ];
    const xs = finished.map((row) => row.x);
    const data = panels.map((panel) =>
      window ? [xs, panel.values, movingAverage(panel.values, window)] : [xs, panel.values]
    );
    if (this.plots.length && this.window === window) {
      this.plots.forEach((plot, index) => plot.setData(data[index]));
      return;
    }
    // A moving average appears (or its window changes): the series change, so the plots are made again.
    this.destroy();
    this.window = window;
    this.plots = panels.map((panel, index) => this.makePlot(panel, data[index], window, index === panels.length - 1));
  }

  xOf(row) {
    return this.time ? Date.parse(row.ended) / 1000 : row.number;
  }

  makePlot(panel, data, window, withXLabel) {
    const colour = EPISODE_CHART_COLOURS[panel.key];
    const dense = data[0].length >= 10;
    const series = [
      { label: this.time ? "ended" : "episode", value: (plot, value) => this.xLabel(value) },
      {
        label: panel.label,
        stroke: colour,
        width: 1.5,
        alpha: dense ? 0.45 : 1,
        points: { show: data[0].length <= 150, size: data[0].length <= 40 ? 6 : 4, fill: colour },
        value: (plot, value) => (value === null || value === undefined ? "–" : formatNumber(value)),
      },
    ];
    if (window) {
      series.push({
        label: `average of ${window}`,
        stroke: colour,
        width: 2.5,
        points: { show: false },
        value: (plot, value) => (value === null || value === undefined ? "–" : formatNumber(value)),
      });
    }
    const element = document.createElement("div");
    element.className = `chart-panel chart-${panel.key}`;
    this.container.append(element);
    const plot = new uPlot(
      {
        width: this.width(),
        height: this.panelHeight,
        series,
        scales: { x: { time: this.time } },
        axes: [
          {
            label: withXLabel ? (this.time ? "when the episode ended (UTC)" : "episode") : undefined,
            // Episode numbers are whole numbers: no 2.5th episode on the axis.
            incrs: this.time ? undefined : [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000],
            stroke: "#6b7385",
            grid: { stroke: "#eceef2" },
            ticks: { stroke: "#eceef2" },
          },
          { stroke: "#6b7385", grid: { stroke: "#eceef2" }, ticks: { stroke: "#eceef2" }, size: 56 },
        ],
        cursor: { sync: { key: this.syncKey }, drag: { x: false, y: false } },
        legend: { live: true },
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      },
      data,
      element
    );
    plot.over.addEventListener("click", () => {
      const index = plot.cursor.idx;
      if (this.onPick && index !== null && index !== undefined && this.rows[index]) this.onPick(this.rows[index]);
    });
    if (this.onPick) plot.over.style.cursor = "pointer";
    return plot;
  }

  xLabel(value) {
    if (value === null || value === undefined) return "–";
    if (!this.time) return String(value);
    return new Date(value * 1000).toISOString().slice(0, 19).replace("T", " ");
  }

  width() {
    return Math.max(this.container.clientWidth, 200);
  }

  resize() {
    const width = this.width();
    this.plots.forEach((plot) => {
      if (plot.width !== width) plot.setSize({ width, height: this.panelHeight });
    });
  }

  destroy() {
    this.plots.forEach((plot) => {
      plot.root.parentElement.remove();
      plot.destroy();
    });
    this.plots = [];
    this.window = undefined;
  }
}
