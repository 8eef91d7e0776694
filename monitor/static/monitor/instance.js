// The instance page: a large live view of one instance and the chart of its
// recorded episodes, which grows as episodes finish. A click on an episode plays
// its video (GET /v1/episodes/{id}/video.mp4, rendered by replaying it), or says
// why it has none.

(function () {
  const root = document.getElementById("instance");
  const instanceId = root.dataset.instanceId;
  const client = new GymClient();
  const caption = document.getElementById("chart-caption");
  const pick = document.getElementById("chart-pick");
  const status = document.getElementById("status");
  const player = document.getElementById("episode-player");
  const video = document.getElementById("episode-video");
  const videoNote = document.getElementById("episode-video-note");
  let episodes = [];
  const chart = new EpisodeChart(document.getElementById("chart"), {
    onPick: (row) => {
      pick.textContent =
        `Episode ${row.number}: return ${formatNumber(row.return)} in ${formatNumber(row.steps)} steps, ${row.outcome}` +
        (row.seed !== undefined && row.seed !== null ? ` (seed ${row.seed})` : "");
      play(row);
    },
  });

  // An episode that finished while the page was open came as an event, without its id: the list has it.
  async function episodeId(row) {
    if (row.id) return row.id;
    const listed = (await client.episodes(instanceId)).episodes.find((e) => e.number === row.number);
    return listed ? listed.id : null;
  }

  async function play(row) {
    player.hidden = false;
    videoNote.textContent = `Episode ${row.number}: making its video (the first time, it is replayed on the server)…`;
    const id = await episodeId(row);
    if (!id) {
      videoNote.textContent = `Episode ${row.number} has no record yet.`;
      return;
    }
    video.hidden = false;
    video.dataset.episode = String(id);
    video.src = `/v1/episodes/${id}/video.mp4`;
  }

  video.addEventListener("loadeddata", () => {
    videoNote.textContent = `Episode ${video.dataset.episode}, replayed from its seed and actions.`;
  });
  video.addEventListener("error", async () => {
    // The video route answers why in the API's error shape (not replayable, still running...).
    let detail = "its video could not be loaded";
    try {
      detail = (await (await fetch(video.src)).json()).detail || detail;
    } catch (error) {
      // the network itself: keep the general message
    }
    video.hidden = true;
    videoNote.textContent = detail;
  });

  function outcomeOf(event) {
    return event.terminated ? "terminated" : event.truncated ? "truncated" : "interrupted";
  }

  function summary() {
    const finished = episodes.filter((e) => e.outcome !== "running" && typeof e.return === "number");
    if (!finished.length) return "";
    const returns = finished.map((e) => e.return);
    const meanLength = finished.reduce((sum, e) => sum + e.steps, 0) / finished.length;
    const lastOne = finished[finished.length - 1];
    return (
      `${finished.length} finished episode${finished.length === 1 ? "" : "s"} · ` +
      `last return ${formatNumber(lastOne.return)} · best ${formatNumber(Math.max(...returns))} · ` +
      `mean length ${formatNumber(meanLength)} steps`
    );
  }

  function redraw() {
    chart.update(episodes);
    caption.textContent = summary();
  }

  function episodeFinished(event) {
    const row = { number: event.episode, steps: event.steps, return: event.return, outcome: outcomeOf(event) };
    const index = episodes.findIndex((e) => e.number === row.number);
    if (index >= 0) episodes[index] = row;
    else episodes.push(row);
    episodes.sort((a, b) => a.number - b.number);
    redraw();
  }

  function setStatus(value) {
    status.textContent = value;
    status.className = `badge status-${value}`;
  }

  async function start() {
    try {
      episodes = (await client.episodes(instanceId)).episodes;
    } catch (error) {
      caption.textContent = `Could not load the episodes: ${error.message}`;
    }
    redraw();
    const container = document.getElementById("view");
    const stats = {};
    for (const name of ["episode", "step", "reward", "return"]) stats[name] = document.getElementById(`stat-${name}`);
    if (root.dataset.status !== "active") {
      // Nothing live: the counters of its last recorded episode, and the chart.
      const lastOne = episodes[episodes.length - 1];
      if (lastOne) {
        stats.episode.textContent = formatNumber(lastOne.number);
        stats.step.textContent = formatNumber(lastOne.steps);
        stats.return.textContent = formatNumber(lastOne.return);
      }
      const note = document.createElement("div");
      note.className = "placeholder";
      note.textContent = `This instance is ${root.dataset.status}: nothing live to show. Its recorded episodes are charted below.`;
      container.classList.add("idle");
      container.append(note);
      return;
    }
    new LiveView(client, instanceId, {
      container,
      stats,
      onEvent: (event) => {
        if (event.type === "episode_finished") episodeFinished(event);
      },
      onEnd: (event) => setStatus(event.type),
    }).start();
  }

  start();
})();
