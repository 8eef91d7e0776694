// gymapi-client.js: a small JavaScript client for the gymapi server.
// Plain browser JavaScript, no dependencies: fetch for the /v1 routes,
// WebSocket for watching. Every error the server answers with is thrown as a
// GymApiError carrying its status, code and message. On a server that
// requires API keys: new GymClient(baseUrl, { apiKey: "gk_..." }) sends it as
// "Authorization: Bearer" (and as ?key= on WebSockets). { headers } are sent
// with every request besides (this server's own pages add their CSRF token).

class GymApiError extends Error {
  constructor(status, body) {
    super(body && body.detail ? body.detail : `HTTP ${status}`);
    this.name = "GymApiError";
    this.status = status;
    this.code = body && body.code ? body.code : "error";
    this.fields = body && body.fields ? body.fields : null;
  }
}

class GymClient {
  constructor(baseUrl = window.location.origin, { apiKey = null, headers = {} } = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.apiKey = apiKey;
    this.headers = headers;
  }

  // keepalive: the request outlives the page (a close sent as the page goes away).
  async request(method, path, body, { keepalive = false } = {}) {
    const options = { method, keepalive, headers: { Accept: "application/json", ...this.headers } };
    if (this.apiKey) options.headers.Authorization = `Bearer ${this.apiKey}`;
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(this.baseUrl + path, options);
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (error) {
        data = { detail: text.slice(0, 200), code: "not_json" };
      }
    }
    if (!response.ok) throw new GymApiError(response.status, data);
    return data;
  }

  // POST /v1/envs/ and a RemoteEnv for the new instance.
  // options: { render_mode, seed, kwargs, max_episode_steps }
  async make(envId, options = {}) {
    const created = await this.request("POST", "/v1/envs/", { env_id: envId, ...options });
    return new RemoteEnv(this, created.instance_id, envId);
  }

  listInstances() { return this.request("GET", "/v1/envs/"); }
  instance(instanceId) { return this.request("GET", `/v1/envs/${instanceId}/`); }
  episodes(instanceId, limit = 1000) { return this.request("GET", `/v1/envs/${instanceId}/episodes/?limit=${limit}`); }
  registry(query = "") { return this.request("GET", `/v1/registry/?q=${encodeURIComponent(query)}`); }

  wsUrl(path) {
    const url = this.baseUrl.replace(/^http/, "ws") + path;
    return this.apiKey ? `${url}?key=${encodeURIComponent(this.apiKey)}` : url;
  }

  // Watch one instance: onEvent(json) for each event, onFrame(blob) for the
  // JPEG that follows a step event whose "frame" names one. Returns the socket.
  watch(instanceId, { onEvent = () => {}, onFrame = () => {}, onClose = () => {} } = {}) {
    const socket = new WebSocket(this.wsUrl(`/ws/envs/${instanceId}/`));
    socket.binaryType = "blob";
    socket.addEventListener("message", (message) => {
      if (typeof message.data === "string") onEvent(JSON.parse(message.data));
      else onFrame(message.data);
    });
    socket.addEventListener("close", onClose);
    return socket;
  }

  // Watch the whole server: an "instances" snapshot, then "created", "closed",
  // "lost" and "episode_finished" events. Returns the socket.
  watchServer({ onEvent = () => {}, onOpen = () => {}, onClose = () => {} } = {}) {
    const socket = new WebSocket(this.wsUrl("/ws/envs/"));
    socket.addEventListener("message", (message) => onEvent(JSON.parse(message.data)));
    socket.addEventListener("open", onOpen);
    socket.addEventListener("close", onClose);
    return socket;
  }
}

// One environment instance on the server, shaped like gymnasium.Env.
class RemoteEnv {
  constructor(client, instanceId, envId) {
    this.client = client;
    this.instanceId = instanceId;
    this.envId = envId;
    this.closed = false;
    this.path = `/v1/envs/${instanceId}`;
  }

  // -> { observation, info }
  reset({ seed, options } = {}) {
    return this.client.request("POST", `${this.path}/reset/`, { seed, options });
  }

  // -> { observation, reward, terminated, truncated, info, done }
  step(action) {
    return this.client.request("POST", `${this.path}/step/`, { action });
  }

  // -> { render_mode, content_type, encoding, data }
  render() { return this.client.request("GET", `${this.path}/monitor/render/`); }
  actionSpace() { return this.client.request("GET", `${this.path}/action_space/`); }
  observationSpace() { return this.client.request("GET", `${this.path}/observation_space/`); }
  async sampleAction() { return (await this.client.request("GET", `${this.path}/action_space/sample/`)).action; }

  // { keepalive: true } when the page is going away: the close still reaches the server.
  async close({ keepalive = false } = {}) {
    if (this.closed) return;
    this.closed = true;
    await this.client.request("DELETE", `${this.path}/`, undefined, { keepalive });
  }
}
