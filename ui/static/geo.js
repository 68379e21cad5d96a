// Geometry the map needs beyond Leaflet: whether a position lies in the countries a
// situation names, and spreading markers that overlap so each click lands on the one under
// the cursor.

// How far outside a country's outline (in degrees, about 25 km) a position still counts as
// in it: a landing station or a port sits on the coast the 1:50m outline simplifies away.
const COAST = 0.25;

function inRing(ring, x, y) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function segDist2(px, py, ax, ay, bx, by) {
  const dx = bx - ax, dy = by - ay;
  const l2 = dx * dx + dy * dy;
  let t = l2 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0;
  t = Math.max(0, Math.min(1, t));
  const ex = ax + t * dx - px, ey = ay + t * dy - py;
  return ex * ex + ey * ey;
}

function polygons(g) {
  if (!g) return [];
  if (g.type === "Polygon") return [g.coordinates];
  if (g.type === "MultiPolygon") return g.coordinates;
  return [];
}

// inCountry reports whether (lat, lon) lies in feature f's outline, or within COAST of it.
export function inCountry(f, lat, lon) {
  const polys = polygons(f.geometry);
  for (const p of polys) {
    let inside = false;
    for (const ring of p) if (inRing(ring, lon, lat)) inside = !inside; // holes flip it back
    if (inside) return true;
  }
  // Near the outline: compare in degrees with longitude shrunk by latitude.
  const k = Math.cos((lat * Math.PI) / 180);
  const c2 = COAST * COAST;
  for (const p of polys) for (const ring of p) {
    for (let i = 1; i < ring.length; i++) {
      if (segDist2(lon * k, lat, ring[i - 1][0] * k, ring[i - 1][1], ring[i][0] * k, ring[i][1]) < c2) return true;
    }
  }
  return false;
}

// outsideCountries returns the countries s names when its position lies in none of them
// (so the map must say so), else []. Countries the base map lacks (EU, a typo) are not
// judged: with one of them named, nothing is reported.
export function outsideCountries(s, featuresOf) {
  const cs = (s.countries || []).filter(c => c && c !== "EU");
  if (!s.geo || !cs.length) return [];
  for (const c of cs) {
    const fs = featuresOf(c);
    if (!fs.length) return [];
    if (fs.some(f => inCountry(f, s.geo.lat, s.geo.lon))) return [];
  }
  return cs;
}

// spread moves markers that overlap on screen apart: items are {x, y, r, key}; those whose
// discs touch are gathered (transitively) and laid out on a circle round their middle, in
// key order, far enough apart that none covers another. It returns key → {x, y} for the
// moved ones only.
export function spread(items, gap = 3) {
  const n = items.length;
  const parent = items.map((_, i) => i);
  const find = i => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
    const a = items[i], b = items[j];
    const d = a.r + b.r + gap;
    if (Math.abs(a.x - b.x) < d && Math.abs(a.y - b.y) < d && (a.x - b.x) ** 2 + (a.y - b.y) ** 2 < d * d) parent[find(i)] = find(j);
  }
  const groups = new Map();
  for (let i = 0; i < n; i++) {
    const g = find(i);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(items[i]);
  }
  const out = new Map();
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    g.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const cx = g.reduce((s, a) => s + a.x, 0) / g.length, cy = g.reduce((s, a) => s + a.y, 0) / g.length;
    const rmax = Math.max(...g.map(a => a.r));
    // Neighbours on the circle are 2R·sin(π/n) apart: at least two radii and a gap.
    const R = Math.max(rmax + gap, (rmax + gap / 2) / Math.sin(Math.PI / g.length));
    g.forEach((a, i) => {
      const t = -Math.PI / 2 + (2 * Math.PI * i) / g.length;
      out.set(a.key, { x: cx + R * Math.cos(t), y: cy + R * Math.sin(t) });
    });
  }
  return out;
}
