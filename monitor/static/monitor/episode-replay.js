// The admin's episode page: its Replay button re-runs the episode on the server
// (GET /v1/episodes/{id}/replay/) and says whether the replay gave the recorded figures.
// The page's video says why it failed to load, from the API's error body.

(function () {
  const section = document.getElementById("episode-replay");
  if (!section) return;
  const url = section.dataset.apiUrl;
  const button = document.getElementById("replay-button");
  const result = document.getElementById("replay-result");
  const video = document.getElementById("episode-video");

  async function detailOf(response) {
    try {
      return (await response.json()).detail || response.statusText;
    } catch (error) {
      return response.statusText;
    }
  }

  if (button) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      result.textContent = "Replaying…";
      try {
        const response = await fetch(`${url}replay/`, { headers: { Accept: "application/json" } });
        if (!response.ok) {
          result.textContent = await detailOf(response);
          return;
        }
        const body = await response.json();
        result.textContent = `Reproduced: ${body.steps} steps, return ${body.return} (recorded ${body.recorded_return}).`;
      } catch (error) {
        result.textContent = `The replay could not be asked for: ${error.message}`;
      } finally {
        button.disabled = false;
      }
    });
  }

  if (video) {
    video.addEventListener("error", async () => {
      const note = document.createElement("p");
      note.className = "help";
      note.textContent = await detailOf(await fetch(video.src));
      video.replaceWith(note);
    });
  }
})();
