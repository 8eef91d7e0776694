// The monitor page: one live tile per active instance. Tiles come and go with
// the server's events on ws/envs/; each tile watches its instance on
// ws/envs/{id}/. Nothing is polled.

(function () {
  const client = new GymClient();
  const grid = document.getElementById("tiles");
  const empty = document.getElementById("empty");
  const connection = document.getElementById("connection");
  const count = document.getElementById("count");
  const tiles = new Map();

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

  class Tile {
    constructor(info) {
      this.instanceId = info.instance_id;
      const tile = element("a", "tile");
      tile.href = `/monitor/${info.instance_id}/`;
      tile.dataset.instanceId = info.instance_id;
      tile.title = "Open the instance page";
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
      const footer = element("div", "tile-footer");
      footer.append(element("code", "short-id", info.instance_id.slice(0, 8)));
      this.lastEpisode = element("span", "last-episode", "");
      footer.append(this.lastEpisode);
      tile.append(view, meta, stats, footer);
      this.element = tile;
      this.live = new LiveView(client, info.instance_id, { container: view, stats: values });
      this.live.start();
    }

    episodeFinished(event) {
      const outcome = event.terminated ? "terminated" : event.truncated ? "truncated" : "interrupted";
      this.lastEpisode.textContent = `ep ${event.episode}: ${formatNumber(event.return)} in ${event.steps} (${outcome})`;
    }

    remove() {
      this.live.stop();
      this.element.remove();
    }
  }

  function refresh() {
    empty.hidden = tiles.size > 0;
    count.textContent = tiles.size === 1 ? "1 instance" : `${tiles.size} instances`;
  }

  function add(info) {
    const existing = tiles.get(info.instance_id);
    if (existing) {
      // Still active after a reconnection: watch it again if its socket dropped.
      if (existing.live.socket.readyState === WebSocket.CLOSED) existing.live.start();
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
})();
