// The admin's episode charts (envs/admin.py): each element with data-rows names the
// <script type="application/json"> that holds its episodes; data-x says whether they
// run by episode number or over time. A click on an episode opens its record.

document.querySelectorAll(".episode-chart[data-rows]").forEach((container) => {
  const rows = JSON.parse(document.getElementById(container.dataset.rows).textContent);
  const chart = new EpisodeChart(container, {
    time: container.dataset.x === "time",
    onPick: (row) => {
      window.location.href = row.url;
    },
  });
  chart.update(rows);
});
