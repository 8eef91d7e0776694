// The monitor page: one live tile per active instance. Tiles come and go with
// the server's events on ws/envs/; each tile watches its instance on
// ws/envs/{id}/. Nothing is polled. A tile says how long its instance has been
// idle, and its close button closes the instance (after a confirm dialog).

(function () {
  const grid = document.getElementById("tiles");
  // The page's CSRF token goes with every request: a staff login (keys on) needs it to close an instance.
  const client = new GymClient(undefined, { headers: { "X-CSRFToken": grid.dataset.csrfToken } });
  const empty = document.getElementById("empty");
  const connection = document.getElementById("connection");
  const count = document.getElementById("count");
  const idleLimit = Number(grid.dataset.idleLimit) || 0; // GYMAPI_IDLE_SECONDS; 0: never reaped
  const tiles = new Map();
  // A tile says "idle" once its instance has been untouched this long.
  const IDLE_AFTER_SECONDS = 60;

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function stat(list, name, label) {
    const item = element("div", `stat stat-${name}`);
    item.append(element("dt", "", label));
    const value = element("dd", name, "–");
    item.append(value);
    list.append(item);
    return value;
  }

  // "45 s", "3 min", "2 h 5 min", "3 days": a duration as people say it.
  function spokenDuration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return `${seconds} s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} min`;
    const hours = Math.floor(minutes / 60);
    if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
    const days = Math.floor(hours / 24);
    return days === 1 ? "1 day" : `${days} days`;
  }

  function episodeSentence(event) {
    const how = event.terminated ? "ended" : event.truncated ? "reached its step limit" : "was cut short by a reset";
    const steps = event.steps === 1 ? "1 step" : `${formatNumber(event.steps)} steps`;
    return `Episode ${event.episode} ${how} after ${steps}, return ${formatNumber(event.return)}.`;
  }

  class Tile {
    constructor(info) {
      this.instanceId = info.instance_id;
      this.envId = info.env_id;
      this.created = Date.parse(info.created) || Date.now();
      this.lastActive = Date.now() - 1000 * (info.idle_seconds || 0);
      this.version = undefined;

      const tile = element("article", "tile");
      tile.dataset.instanceId = info.instance_id;
      const link = element("a", "tile-link");
      link.href = `/monitor/${info.instance_id}/`;
      link.title = `Open the instance page of ${info.env_id} ${info.instance_id}`;
      const view = element("div", "view");
      const meta = element("div", "tile-meta");
      meta.append(element("span", "env-id", info.env_id));
      meta.append(element("span", "mode", info.render_mode || "no render mode"));
      const stats = element("dl", "stats");
      const values = {
        episode: stat(stats, "episode", "episode"),
        step: stat(stats, "step", "step"),
        return: stat(stats, "return", "return"),
      };
      link.append(view, meta, stats);
      const footer = element("div", "tile-footer");
      this.activity = element("p", "activity");
      this.lastEpisode = element("p", "last-episode");
      this.lastEpisode.hidden = true;
      footer.append(this.activity, this.lastEpisode);
      const close = element("button", "tile-close", "×");
      close.type = "button";
      close.title = `Close ${info.env_id} ${info.instance_id.slice(0, 8)}`;
      close.setAttribute("aria-label", close.title);
      close.addEventListener("click", () => confirmClose(this));
      tile.append(link, footer, close);
      this.element = tile;
      this.live = new LiveView(client, info.instance_id, {
        container: view,
        stats: values,
        onEvent: (event) => this.watched(event),
      });
      this.live.start();
      this.tick();
    }

    watched(event) {
      if (event.type !== "step") return;
      // The first step event only shows the current state; a new version means a reset or a step.
      if (this.version !== undefined && event.version !== this.version) {
        this.lastActive = Date.now();
        this.tick();
      }
      this.version = event.version;
    }

    // Refresh the words that depend on the time: how old the instance is, how long it has been idle.
    tick() {
      const now = Date.now();
      const idle = (now - this.lastActive) / 1000;
      const age = (now - this.created) / 1000;
      let text = age < 60 ? "Created just now" : `Created ${spokenDuration(age)} ago`;
      const isIdle = idle >= IDLE_AFTER_SECONDS;
      if (isIdle) text += ` · idle ${spokenDuration(idle)}`;
      this.activity.textContent = text;
      this.element.classList.toggle("idle", isIdle);
      this.activity.title = idleLimit
        ? `The server closes an instance untouched for ${spokenDuration(idleLimit)} (GYMAPI_IDLE_SECONDS).`
        : "";
    }

    episodeFinished(event) {
      this.lastEpisode.textContent = episodeSentence(event);
      this.lastEpisode.hidden = false;
    }

    remove() {
      this.live.stop();
      this.element.remove();
    }
  }

  // The close button: a confirm dialog, then DELETE /v1/envs/{id}/. The tile goes
  // when the server says the instance closed, as for any other close.
  const dialog = document.getElementById("close-dialog");
  const dialogWhat = document.getElementById("close-what");
  const dialogError = document.getElementById("close-error");
  let closing = null;

  function confirmClose(tile) {
    closing = tile;
    dialogWhat.textContent = `${tile.envId} (instance ${tile.instanceId.slice(0, 8)}, created ${spokenDuration(
      (Date.now() - tile.created) / 1000
    )} ago)`;
    dialogError.hidden = true;
    dialog.showModal();
  }

  dialog.querySelector("form").addEventListener("submit", async (event) => {
    if (!event.submitter || event.submitter.value !== "close" || !closing) return; // Cancel: the dialog just closes
    event.preventDefault();
    const buttons = dialog.querySelectorAll("button");
    buttons.forEach((button) => (button.disabled = true));
    try {
      await client.request("DELETE", `/v1/envs/${closing.instanceId}/`);
      closing.element.classList.add("closing");
      dialog.close("closed");
    } catch (error) {
      dialogError.textContent =
        error instanceof GymApiError ? `The server answered ${error.status} (${error.code}): ${error.message}` : String(error);
      dialogError.hidden = false;
    } finally {
      buttons.forEach((button) => (button.disabled = false));
    }
  });

  function refresh() {
    empty.hidden = tiles.size > 0;
    count.textContent = tiles.size === 1 ? "1 instance" : `${tiles.size} instances`;
  }

  function add(info) {
    const existing = tiles.get(info.instance_id);
    if (existing) {
      // Still active after a reconnection: watch it again if its socket dropped.
      if (existing.live.socket.readyState === WebSocket.CLOSED) existing.live.start();
      if (info.idle_seconds !== undefined) existing.lastActive = Date.now() - 1000 * info.idle_seconds;
      existing.tick();
      return;
    }
    const tile = new Tile(info);
    tiles.set(info.instance_id, tile);
    grid.append(tile.element);
    refresh();
  }

  function remove(instanceId) {
    const tile = tiles.get(instanceId);
    if (!tile) return;
    tiles.delete(instanceId);
    tile.remove();
    if (closing === tile && dialog.open) dialog.close("gone");
    refresh();
  }

  function handle(event) {
    if (event.type === "instances") {
      const present = new Set(event.instances.map((info) => info.instance_id));
      for (const instanceId of [...tiles.keys()]) if (!present.has(instanceId)) remove(instanceId);
      event.instances.forEach(add);
    } else if (event.type === "created") {
      add(event);
    } else if (["closed", "lost", "reaped", "broken"].includes(event.type)) {
      remove(event.instance_id);
    } else if (event.type === "episode_finished") {
      const tile = tiles.get(event.instance_id);
      if (tile) tile.episodeFinished(event);
    }
  }

  function connect() {
    connection.textContent = "connecting…";
    connection.className = "connection";
    client.watchServer({
      onEvent: handle,
      onOpen: () => {
        connection.textContent = "live";
        connection.className = "connection live";
      },
      onClose: () => {
        // The server restarted or the network dropped: come back and resync
        // from the snapshot the server sends on arrival.
        connection.textContent = "reconnecting…";
        connection.className = "connection down";
        setTimeout(connect, 2000);
      },
    });
  }

  refresh();
  connect();
  setInterval(() => tiles.forEach((tile) => tile.tick()), 5000);
})();
