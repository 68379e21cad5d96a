// Minimal live list until the map dashboard lands: connects to /ws/picture with the token
// from the URL fragment (#token=...), which never reaches server logs.
"use strict";
const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const situations = new Map();
function render() {
  const rows = [...situations.values()].sort((a, b) => b.score - a.score).slice(0, 200);
  const tbody = document.querySelector("#list tbody");
  tbody.replaceChildren(...rows.map(s => {
    const tr = document.createElement("tr");
    for (const v of [s.score.toFixed(1), s.title, s.severity, s.tlp, (s.contributors || []).map(c => c.name).join(", "), s.event_count]) {
      const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    }
    return tr;
  }));
}
function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/picture?access_token=${encodeURIComponent(token)}`);
  ws.onopen = () => { document.getElementById("status").textContent = "live"; };
  ws.onmessage = ev => {
    const m = JSON.parse(ev.data);
    if (m.type === "snapshot") situations.clear();
    for (const s of m.situations || []) situations.set(s.id, s);
    for (const r of m.removed || []) situations.delete(r.id);
    document.getElementById("status").textContent = `live — ${situations.size} situations, updated ${new Date().toLocaleTimeString()}`;
    render();
  };
  ws.onclose = () => { document.getElementById("status").textContent = "disconnected, retrying…"; setTimeout(connect, 2000); };
}
connect();
