// The agent page: runs the agent code in the text box against this server,
// through gymapi-client.js, drawing each frame and the total reward, and
// showing any error the server answers with.

(function () {
  let client = new GymClient();
  const keyInput = document.getElementById("api-key"); // only when the server requires keys
  const code = document.getElementById("code");
  const example = code.value;
  const runButton = document.getElementById("run");
  const stopButton = document.getElementById("stop");
  const restoreButton = document.getElementById("restore");
  const canvas = document.getElementById("frame");
  const context = canvas.getContext("2d");
  const textView = document.getElementById("text-frame");
  const placeholder = document.getElementById("frame-placeholder");
  const totalOut = document.getElementById("total");
  const stepsOut = document.getElementById("steps");
  const statusOut = document.getElementById("run-status");
  const errorBox = document.getElementById("error");
  const logBox = document.getElementById("log");
  const watchLink = document.getElementById("watch-link");
  const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;

  class AgentStopped extends Error {}

  let stopRequested = false;
  let steps = 0;

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

  // In scope for the agent: draws the environment's current frame and the total reward.
  async function show(env, totalReward) {
    if (stopRequested) throw new AgentStopped("Stopped.");
    if (totalReward !== undefined) totalOut.textContent = formatNumber(totalReward);
    await drawPicture(await env.render());
  }

  // The client the agent gets: the page's client, except that the page counts
  // steps, can stop the agent between calls, and closes what the agent left open.
  function clientForRun(opened) {
    const gym = Object.create(client);
    gym.make = async (...args) => {
      const env = await client.make(...args);
      opened.push(env);
      watchLink.href = `/monitor/${env.instanceId}/`;
      watchLink.hidden = false;
      const step = env.step.bind(env);
      env.step = async (action) => {
        if (stopRequested) throw new AgentStopped("Stopped.");
        const result = await step(action);
        steps += 1;
        stepsOut.textContent = String(steps);
        return result;
      };
      return env;
    };
    return gym;
  }

  async function run() {
    stopRequested = false;
    steps = 0;
    stepsOut.textContent = "0";
    totalOut.textContent = "0";
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
    const opened = [];
    let outcome = "finished";
    try {
      const agent = new AsyncFunction("gym", "show", "log", code.value);
      await agent(clientForRun(opened), show, log);
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
    code.value = example;
  });
  code.addEventListener("keydown", (event) => {
    if (event.key === "Tab") {
      // Indent rather than leave the box.
      event.preventDefault();
      code.setRangeText("  ", code.selectionStart, code.selectionEnd, "end");
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !runButton.disabled) {
      run();
    }
  });

  // Show the client this page runs on, as the server serves it.
  const source = document.getElementById("client-source");
  fetch(source.dataset.src)
    .then((response) => response.text())
    .then((text) => {
      source.textContent = text;
    });
})();
