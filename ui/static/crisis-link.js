// The dashboard's link to the crisis board, carrying the token and exercise of the URL
// fragment (never sent to the server) across.
const link = document.getElementById("crisis-link");
function update() {
  const p = new URLSearchParams(location.hash.slice(1));
  const q = new URLSearchParams();
  for (const k of ["token", "exercise"]) if (p.get(k)) q.set(k, p.get(k));
  link.href = "crisis.html" + (q.toString() ? "#" + q : "");
}
update();
window.addEventListener("hashchange", update);
