// Calls the model API through the web server's /api/ pass-through and tallies replicas.
const form = document.getElementById("customer");
const seen = new Map();

function features() {
  const data = new FormData(form);
  return {
    tenure_months: Number(data.get("tenure_months")),
    monthly_charges: Number(data.get("monthly_charges")),
    support_calls: Number(data.get("support_calls")),
    contract: data.get("contract"),
    paperless_billing: data.get("paperless_billing") ? 1 : 0,
  };
}

function tally(replica) {
  seen.set(replica, (seen.get(replica) || 0) + 1);
  document.getElementById("replicas").innerHTML = [...seen.entries()]
    .map(([name, n]) => `<tr><td>${name}</td><td>${n}</td></tr>`).join("");
}

async function predict() {
  const resp = await fetch("/api/predict", {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(features()),
  });
  const body = await resp.json();
  if (!resp.ok) {
    document.getElementById("answer").textContent = `error: ${body.error}`;
    return;
  }
  const pct = (body.churn_probability * 100).toFixed(1);
  document.getElementById("answer").textContent =
    `${pct}% churn risk — answered by ${body.replica}${body.cached ? " (from cache)" : ""}`;
  tally(body.replica);
}

form.addEventListener("submit", (event) => { event.preventDefault(); predict(); });
document.getElementById("burst").addEventListener("click", async () => {
  for (let i = 0; i < 12; i++) await predict();
});
fetch("/api/").then((r) => r.json()).then((info) => {
  const m = info.model;
  document.getElementById("model").textContent =
    `model ${m.version}: test accuracy ${(m.test_accuracy * 100).toFixed(1)}% on ${m.samples} synthetic customers`;
}).catch(() => { document.getElementById("model").textContent = "model API not reachable yet"; });
