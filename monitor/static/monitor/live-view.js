// A live view of one instance: its picture (frame or ANSI text) and counters,
// fed by the WebSocket ws/envs/{id}/. Used by the monitor's tiles and by the
// instance page.

function formatNumber(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "string") return value; // "NaN", "Infinity"
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toFixed(2);
}

// ANSI text as HTML: SGR colour codes become spans, everything else is escaped.
const ANSI_COLOURS = ["#1d2330", "#e5484d", "#30a46c", "#f5a623", "#3e63dd", "#ab4aba", "#12a594", "#e6e8eb"];

function ansiToHtml(text) {
  const escape = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  let html = "";
  let open = false;
  const pattern = /\x1b\[([0-9;]*)m/g;
  let last = 0;
  let match;
  while ((match = pattern.exec(text)) !== null) {
    html += escape(text.slice(last, match.index));
    last = pattern.lastIndex;
    if (open) { html += "</span>"; open = false; }
    const styles = [];
    for (const code of match[1].split(";").map(Number)) {
      if (code >= 30 && code <= 37) styles.push(`color:${ANSI_COLOURS[code - 30]}`);
      else if (code >= 40 && code <= 47) styles.push(`background:${ANSI_COLOURS[code - 40]};color:#fff`);
      else if (code === 1) styles.push("font-weight:bold");
      else if (code === 4) styles.push("text-decoration:underline");
    }
    if (styles.length) { html += `<span style="${styles.join(";")}">`; open = true; }
  }
  html += escape(text.slice(last));
  if (open) html += "</span>";
  return html;
}

// How an instance's watch ends: the "type" of its last event, and "instance_<type>" as an error's code.
const ENDINGS = ["closed", "lost", "reaped", "broken"];

class LiveView {
  // container: an element to draw into; stats: {episode, step, reward, return} elements (any may be missing);
  // callbacks: onEvent(event) for every event, onEnd(event) when the instance closes or is lost.
  constructor(client, instanceId, { container, stats = {}, onEvent = () => {}, onEnd = () => {} }) {
    this.client = client;
    this.instanceId = instanceId;
    this.container = container;
    this.stats = stats;
    this.onEvent = onEvent;
    this.onEnd = onEnd;
    this.image = null;
    this.text = null;
    this.placeholder = null;
    this.pendingVersion = null;
    this.url = null;
    this.ended = false;
  }

  start() {
    this.ended = false;
    this.showPlaceholder("connecting…");
    this.socket = this.client.watch(this.instanceId, {
      onEvent: (event) => this.handle(event),
      onFrame: (blob) => this.showFrame(blob),
      onClose: (close) => {
        if (!this.ended && close.code !== 1000) this.showPlaceholder("disconnected");
      },
    });
  }

  stop() {
    this.ended = true;
    if (this.socket) this.socket.close();
    if (this.url) URL.revokeObjectURL(this.url);
  }

  handle(event) {
    if (event.type === "instance") {
      this.renderMode = event.render_mode;
    } else if (event.type === "step") {
      this.updateStats(event);
      if (event.text !== null && event.text !== undefined) this.showText(event.text);
      else if (event.frame) this.pendingVersion = event.version;
      else if (event.episode === 0) this.showPlaceholder("waiting for the first reset");
      else if (!this.image) this.showPlaceholder(this.renderMode ? "no picture" : "no render mode: nothing to draw");
    } else if (ENDINGS.includes(event.type)) {
      this.ended = true;
      this.container.classList.add("ended");
      this.onEnd(event);
    } else if (event.type === "error") {
      this.ended = true;
      this.showPlaceholder(event.detail);
      // Closed or lost before this socket joined: the same end, told as an error.
      const ended = ENDINGS.find((ending) => event.code === `instance_${ending}`);
      if (ended) {
        this.container.classList.add("ended");
        this.onEnd({ type: ended, instance_id: this.instanceId });
      }
    }
    this.onEvent(event);
  }

  updateStats(event) {
    const set = (name, value) => { if (this.stats[name]) this.stats[name].textContent = formatNumber(value); };
    set("episode", event.episode);
    set("step", event.step);
    set("reward", event.reward);
    set("return", event.return);
  }

  clear() {
    for (const node of [this.image, this.text, this.placeholder]) if (node) node.remove();
    this.image = this.text = this.placeholder = null;
  }

  showPlaceholder(message) {
    if (!this.placeholder) {
      this.clear();
      this.placeholder = document.createElement("div");
      this.placeholder.className = "placeholder";
      this.container.append(this.placeholder);
    }
    this.placeholder.textContent = message;
  }

  showText(text) {
    if (!this.text) {
      this.clear();
      this.text = document.createElement("pre");
      this.text.className = "ansi";
      this.container.append(this.text);
    }
    this.text.innerHTML = ansiToHtml(text);
  }

  showFrame(blob) {
    if (!this.image) {
      this.clear();
      this.image = document.createElement("img");
      this.image.className = "frame";
      this.image.alt = `live frame of ${this.instanceId}`;
      this.image.addEventListener("load", () => {
        // Small frames (Atari, grid worlds) stay crisp when scaled up.
        this.image.classList.toggle("pixelated", this.image.naturalWidth < 320);
      });
      this.container.append(this.image);
    }
    const previous = this.url;
    this.url = URL.createObjectURL(blob);
    this.image.src = this.url;
    this.image.dataset.version = this.pendingVersion;
    if (previous) URL.revokeObjectURL(previous);
  }
}
