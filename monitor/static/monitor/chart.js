// The instance page's chart: return (top) and length in steps (bottom) of each
// finished episode, drawn on a <canvas>, with a moving average once there are
// enough episodes to make one worth reading.

function niceStep(range, count) {
  const raw = range / Math.max(count, 1);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const fraction = raw / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

function niceScale(min, max, count = 4, integer = false) {
  if (min === max) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    min -= pad;
    max += pad;
  }
  let step = niceStep(max - min, count);
  if (integer) step = Math.max(1, Math.round(step));
  const low = Math.floor(min / step) * step;
  const high = Math.ceil(max / step) * step;
  const ticks = [];
  for (let value = low; value <= high + step / 2; value += step) ticks.push(Number(value.toPrecision(12)));
  return { min: low, max: high, ticks };
}

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

function tickLabel(value) {
  const magnitude = Math.abs(value);
  if (magnitude >= 10000) return `${(value / 1000).toFixed(0)}k`;
  if (magnitude >= 1000) return `${(value / 1000).toFixed(1)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) < 1 ? 2 : 1);
}

function drawPanel(ctx, box, xScale, numbers, values, { label, colour, includeZero }) {
  const low = Math.min(...values, includeZero ? 0 : Infinity);
  const high = Math.max(...values, includeZero ? 0 : -Infinity);
  const scale = niceScale(low, high, 5);
  const x = (n) => box.x + ((n - xScale.min) / (xScale.max - xScale.min)) * box.w;
  const y = (v) => box.y + box.h - ((v - scale.min) / (scale.max - scale.min)) * box.h;

  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  ctx.textAlign = "right";
  for (const tick of scale.ticks) {
    ctx.strokeStyle = tick === 0 ? "#c4c9d4" : "#eceef2";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(box.x, Math.round(y(tick)) + 0.5);
    ctx.lineTo(box.x + box.w, Math.round(y(tick)) + 0.5);
    ctx.stroke();
    ctx.fillStyle = "#6b7385";
    ctx.fillText(tickLabel(tick), box.x - 8, y(tick));
  }

  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  ctx.fillStyle = "#1d2330";
  ctx.font = "600 12px system-ui, sans-serif";
  ctx.fillText(label, box.x + 4, box.y - 16);

  ctx.strokeStyle = colour;
  ctx.globalAlpha = values.length >= 10 ? 0.45 : 1;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  values.forEach((value, index) => {
    const method = index === 0 ? "moveTo" : "lineTo";
    ctx[method](x(numbers[index]), y(value));
  });
  ctx.stroke();
  if (values.length <= 150) {
    ctx.fillStyle = colour;
    values.forEach((value, index) => {
      ctx.beginPath();
      ctx.arc(x(numbers[index]), y(value), values.length <= 40 ? 3 : 2, 0, 2 * Math.PI);
      ctx.fill();
    });
  }
  ctx.globalAlpha = 1;

  if (values.length >= 10) {
    const window = Math.max(3, Math.round(values.length / 10));
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    movingAverage(values, window).forEach((value, index) => {
      const method = index === 0 ? "moveTo" : "lineTo";
      ctx[method](x(numbers[index]), y(value));
    });
    ctx.stroke();
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#6b7385";
    ctx.textAlign = "right";
    ctx.fillText(`thick line: average of ${window}`, box.x + box.w, box.y - 16);
  }
}

// episodes: [{number, steps, return, outcome}, ...] as GET /v1/envs/{id}/episodes/ gives them.
function drawEpisodeChart(canvas, episodes) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);

  const finished = episodes.filter((e) => e.outcome !== "running" && typeof e.return === "number");
  canvas.dataset.episodes = String(finished.length);
  if (finished.length === 0) {
    ctx.fillStyle = "#6b7385";
    ctx.font = "14px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText("No finished episodes yet: the chart fills in as episodes end.", width / 2, height / 2);
    return;
  }

  const margin = { left: 56, right: 16, top: 26, bottom: 34 };
  const gap = 44;
  const panelHeight = (height - margin.top - margin.bottom - gap) / 2;
  const plotWidth = width - margin.left - margin.right;
  const numbers = finished.map((e) => e.number);
  const first = numbers[0];
  const last = numbers[numbers.length - 1];
  const xScale = niceScale(first === last ? first - 1 : first, first === last ? last + 1 : last, 8, true);
  xScale.min = Math.max(xScale.min, first === last ? first - 1 : first);
  xScale.max = Math.min(xScale.max, first === last ? last + 1 : last);

  const top = { x: margin.left, y: margin.top, w: plotWidth, h: panelHeight };
  const bottom = { x: margin.left, y: margin.top + panelHeight + gap, w: plotWidth, h: panelHeight };
  drawPanel(ctx, top, xScale, numbers, finished.map((e) => e.return), {
    label: "Return per episode",
    colour: "#2456c7",
    includeZero: false,
  });
  drawPanel(ctx, bottom, xScale, numbers, finished.map((e) => e.steps), {
    label: "Length per episode (steps)",
    colour: "#d9730d",
    includeZero: true,
  });

  // The shared x axis: episode numbers under the bottom panel.
  ctx.fillStyle = "#6b7385";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const xTicks = niceScale(xScale.min, xScale.max, 8, true).ticks.filter((t) => t >= xScale.min && t <= xScale.max);
  for (const tick of xTicks) {
    const px = bottom.x + ((tick - xScale.min) / (xScale.max - xScale.min)) * bottom.w;
    ctx.fillText(String(tick), px, bottom.y + bottom.h + 6);
  }
  ctx.fillText("episode", bottom.x + bottom.w / 2, bottom.y + bottom.h + 20);
}
