// The agent page: runs the agent code in the editor (CodeMirror) against this
// server, through gymapi-client.js, drawing each frame, counting the episode's
// reward and steps and the run's episodes, and showing any error the server
// answers with. Leaving the page closes the instances the run left open.

(function () {
  let client = new GymClient();
  const keyInput = document.getElementById("api-key"); // only when the server requires keys
  const code = document.getElementById("code");
  const example = code.value;
  const runKeys = () => {
    if (!runButton.disabled) run();
  };
  const editor = CodeMirror.fromTextArea(code, {
    mode: "javascript",
    lineNumbers: true,
    lineWrapping: true,
    indentUnit: 2,
    tabSize: 2,
    matchBrackets: true,
    autoCloseBrackets: true,
    viewportMargin: Infinity, // the whole agent is laid out, so the page (not the editor) scrolls
    extraKeys: {
      "Ctrl-Enter": runKeys,
      "Cmd-Enter": runKeys,
      // Indent with spaces, as the example is written.
      Tab: (cm) => (cm.somethingSelected() ? cm.indentSelection("add") : cm.replaceSelection("  ", "end")),
    },
  });
  const runButton = document.getElementById("run");
  const stopButton = document.getElementById("stop");
  const restoreButton = document.getElementById("restore");
  const canvas = document.getElementById("frame");
  const context = canvas.getContext("2d");
  const textView = document.getElementById("text-frame");
  const placeholder = document.getElementById("frame-placeholder");
  const rewardOut = document.getElementById("episode-reward");
  const stepsOut = document.getElementById("episode-steps");
  const episodesOut = document.getElementById("run-episodes");
  const statusOut = document.getElementById("run-status");
  const errorBox = document.getElementById("error");
  const logBox = document.getElementById("log");
  const watchLink = document.getElementById("watch-link");
  const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;

  class AgentStopped extends Error {}

  let stopRequested = false;
  let opened = []; // the current run's environments, closed when it ends or the page goes away
  const counts = { reward: 0, steps: 0, episodes: 0 };

  function showCounts() {
    rewardOut.textContent = formatNumber(counts.reward);
    stepsOut.textContent = String(counts.steps);
    episodesOut.textContent = String(counts.episodes);
  }

  function setStatus(text, kind) {
    statusOut.textContent = text;
    statusOut.className = `run-status ${kind || ""}`;
  }

  function log(...parts) {
    const line = parts.map((part) => (typeof part === "string" ? part : JSON.stringify(part))).join(" ");
    logBox.textContent += line + "\n";
    logBox.scrollTop = logBox.scrollHeight;
  }

  function showError(error) {
    let message;
    if (error instanceof GymApiError) {
      message = `The server answered ${error.status} (${error.code}): ${error.message}`;
      // Validation errors list their fields; the message usually says it all already.
      for (const [field, problems] of Object.entries(error.fields || {})) {
        const line = `${field}: ${problems.join(" ")}`;
        if (!message.includes(line)) message += `\n  ${line}`;
      }
    } else {
      message = `${error.name || "Error"}: ${error.message}`;
    }
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  async function drawPicture(picture) {
    const data = Array.isArray(picture.data) ? picture.data[picture.data.length - 1] : picture.data;
    if (data === undefined) return;
    placeholder.hidden = true;
    if (picture.content_type === "text/plain") {
      canvas.hidden = true;
      textView.hidden = false;
      textView.innerHTML = ansiToHtml(data);
      return;
    }
    const image = new Image();
    image.src = `data:${picture.content_type};base64,${data}`;
    await image.decode();
    textView.hidden = true;
    canvas.hidden = false;
    if (canvas.width !== image.naturalWidth || canvas.height !== image.naturalHeight) {
      canvas.width = image.naturalWidth;
      canvas.height = image.naturalHeight;
      canvas.classList.toggle("pixelated", image.naturalWidth < 320);
    }
    context.drawImage(image, 0, 0);
  }

  // In scope for the agent: draws the environment's current frame.
  async function show(env) {
    if (stopRequested) throw new AgentStopped("Stopped.");
    await drawPicture(await env.render());
  }

  // The client the agent gets: the page's client, except that the page counts
  // episodes, steps and rewards, can stop the agent between calls, and closes
  // what the agent left open.
  function clientForRun() {
    const gym = Object.create(client);
    gym.make = async (...args) => {
      const env = await client.make(...args);
      opened.push(env);
      watchLink.href = `/monitor/${env.instanceId}/`;
      watchLink.hidden = false;
      const reset = env.reset.bind(env);
      env.reset = async (...args) => {
        if (stopRequested) throw new AgentStopped("Stopped.");
        const result = await reset(...args);
        counts.episodes += 1;
        counts.steps = 0;
        counts.reward = 0;
        showCounts();
        return result;
      };
      const step = env.step.bind(env);
      env.step = async (action) => {
        if (stopRequested) throw new AgentStopped("Stopped.");
        const result = await step(action);
        counts.steps += 1;
        if (typeof result.reward === "number") counts.reward += result.reward;
        showCounts();
        return result;
      };
      return env;
    };
    return gym;
  }

  async function run() {
    stopRequested = false;
    Object.assign(counts, { reward: 0, steps: 0, episodes: 0 });
    showCounts();
    errorBox.hidden = true;
    errorBox.textContent = "";
    logBox.textContent = "";
    runButton.disabled = true;
    stopButton.disabled = false;
    setStatus("running…", "running");
    if (keyInput) {
      sessionStorage.setItem("gymapi-key", keyInput.value.trim());
      client = new GymClient(undefined, { apiKey: keyInput.value.trim() || null });
    }
    opened = [];
    let outcome = "finished";
    try {
      const agent = new AsyncFunction("gym", "show", "log", editor.getValue());
      await agent(clientForRun(), show, log);
    } catch (error) {
      if (error instanceof AgentStopped) {
        outcome = "stopped";
      } else {
        outcome = "failed";
        showError(error);
      }
    } finally {
      // The run is over once the environments it left open are closed: the status says so only then.
      for (const env of opened) {
        if (!env.closed) await env.close().catch(() => {});
      }
      setStatus(outcome, outcome);
      runButton.disabled = false;
      stopButton.disabled = true;
    }
  }

  if (keyInput) keyInput.value = sessionStorage.getItem("gymapi-key") || "";
  runButton.addEventListener("click", run);
  stopButton.addEventListener("click", () => {
    stopRequested = true;
  });
  restoreButton.addEventListener("click", () => {
    editor.setValue(example);
  });
  // Leaving the page (another page, a reload, the tab closed) ends the run: its
  // instances are closed with requests that outlive the page, rather than left
  // for the server's idle reaper (GYMAPI_IDLE_SECONDS).
  window.addEventListener("pagehide", () => {
    stopRequested = true;
    for (const env of opened) env.close({ keepalive: true }).catch(() => {});
  });

  // Show the client this page runs on, as the server serves it.
  const source = document.getElementById("client-source");
  fetch(source.dataset.src)
    .then((response) => response.text())
    .then((text) => {
      source.textContent = text;
    });
})();
