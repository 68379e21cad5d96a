// The map: a vector base map from the vendored world-atlas (no tile server: the dashboard
// runs on closed networks), mission areas, clustered situation markers and country shading
// for situations that carry countries but no position.
/* global L, Supercluster, topojson */
import { SEVERITY_COLOUR, SEVERITIES, sevRank, el } from "./format.js";
import { outsideCountries, spread } from "./geo.js";

// Europe and its surroundings down to the Atalanta area.
const HOME = [[-14, -22], [70, 68]];
// world-atlas shapes without an ISO numeric id.
const NAMED = { "Kosovo": "XK", "Somaliland": "SO", "N. Cyprus": "CY" };

// unwrapRing makes a ring continuous across ±180° (Russia's Chukotka, Fiji): a jump of more
// than 180° is a wrap, so it is undone instead of drawn as a line across the world.
function unwrapRing(ring) {
  let shift = 0;
  const out = [[ring[0][0], ring[0][1]]];
  for (let i = 1; i < ring.length; i++) {
    const d = ring[i][0] + shift - out[i - 1][0];
    if (d > 180) shift -= 360; else if (d < -180) shift += 360;
    out.push([ring[i][0] + shift, ring[i][1]]);
  }
  // Keep the ring on the side where most of it lies, so Europe's view sees Russia whole.
  const mean = out.reduce((a, p) => a + p[0], 0) / out.length;
  if (mean > 180) for (const p of out) p[0] -= 360;
  if (mean < -180) for (const p of out) p[0] += 360;
  return out;
}

function unwrapGeometry(g) {
  if (!g) return g;
  if (g.type === "Polygon") return { ...g, coordinates: g.coordinates.map(unwrapRing) };
  if (g.type === "MultiPolygon") return { ...g, coordinates: g.coordinates.map(p => p.map(unwrapRing)) };
  return g;
}

const BASE_STYLE = { color: "#4a5d73", weight: 0.7, fillColor: "#1f2d3d", fillOpacity: 1 };

export class PictureMap {
  constructor(container, onSelect) {
    this.onSelect = onSelect;
    this.map = L.map(container, {
      preferCanvas: true, zoomSnap: 0.25, minZoom: 2, maxZoom: 12, worldCopyJump: false,
      attributionControl: true, keyboard: true,
    });
    this.map.attributionControl.setPrefix("Leaflet · Natural Earth (world-atlas)");
    this.renderer = L.canvas({ padding: 0.5 });
    this.map.fitBounds(HOME);
    this.countries = new Map(); // ISO alpha-2 → [layer]
    this.names = new Map();     // ISO alpha-2 → name
    this.shaded = new Map();    // ISO alpha-2 → {sev, ids}
    // Mission labels lie under the markers (the marker pane is at 600): a name never hides one.
    this.map.createPane("missionLabels").style.zIndex = 550;
    this.missionLayer = L.layerGroup().addTo(this.map);
    this.markerLayer = L.layerGroup().addTo(this.map);
    this.index = null;
    this.points = new Map(); // id → situation with geo
    this.selected = "";
    this.map.on("moveend zoomend", () => this.renderMarkers());
    this.addHomeControl();
  }

  addHomeControl() {
    const Home = L.Control.extend({
      onAdd: () => {
        const b = el("button", "map-home", "⌂");
        b.type = "button";
        b.title = "Back to the whole area";
        L.DomEvent.disableClickPropagation(b);
        b.addEventListener("click", () => this.home());
        return b;
      },
    });
    new Home({ position: "topleft" }).addTo(this.map);
  }

  home() { this.map.fitBounds(this.areaBounds || HOME); }

  // homeBounds is the extent home() fits: a map showing all of it shows the whole view.
  homeBounds() { return L.latLngBounds(this.areaBounds || HOME); }

  async loadBase() {
    const [topo, iso] = await Promise.all([
      fetch("vendor/world-atlas/countries-50m.json").then(r => r.json()),
      fetch("vendor/iso/numeric-alpha2.json").then(r => r.json()),
    ]);
    this.features = [];
    const base = L.geoJSON(null, {
      renderer: this.renderer,
      style: () => BASE_STYLE,
      onEachFeature: (f, layer) => {
        const iso2 = f.properties.iso;
        if (!iso2) return;
        if (!this.countries.has(iso2)) this.countries.set(iso2, []);
        this.countries.get(iso2).push(layer);
        this.names.set(iso2, f.properties.name);
        layer.on("click", () => {
          const sh = this.shaded.get(iso2);
          if (sh && sh.ids.length) this.onSelect(sh.ids[0], "map");
        });
        layer.bindTooltip(() => {
          const sh = this.shaded.get(iso2);
          return f.properties.name + (sh ? ` — ${sh.ids.length} situation${sh.ids.length > 1 ? "s" : ""} without position` : "");
        }, { sticky: true, className: "map-tip" });
      },
    }).addTo(this.map);
    // A few countries per task, yielding between: drawn at once, the 50m atlas blocks the
    // page for half a second or more, while the live picture is arriving (ui/test/longtask.test.mjs).
    let t = performance.now();
    for (const g of topo.objects.countries.geometries) {
      const f = topojson.feature(topo, g);
      f.geometry = unwrapGeometry(f.geometry);
      f.properties = { ...f.properties, iso: iso[f.id] || NAMED[(f.properties || {}).name] || "" };
      this.features.push(f);
      base.addData(f);
      if (performance.now() - t > 25) {
        await new Promise(r => setTimeout(r));
        t = performance.now();
      }
    }
  }

  countryName(iso2) { return this.names.get(iso2) || iso2; }

  countryBounds(isos) {
    let b = null;
    for (const c of isos) for (const l of this.countries.get(c) || []) {
      b = b ? b.extend(l.getBounds()) : L.latLngBounds(l.getBounds().getSouthWest(), l.getBounds().getNorthEast());
    }
    return b;
  }

  // setMissions outlines each mission's countries and sea boxes; the selected one (or all,
  // when few) is labelled.
  setMissions(missions, selected) {
    this.missionLayer.clearLayers();
    this.areaBounds = null;
    // Every area is labelled: a dashed outline alone does not say whose it is.
    const label = true;
    for (const m of missions) {
      const on = !selected || m.name === selected;
      const style = {
        renderer: this.renderer, interactive: false, color: on ? "#5ab0ff" : "#34597e",
        weight: on ? 2 : 1, dashArray: "6 4", fill: on && !!selected, fillColor: "#5ab0ff", fillOpacity: 0.07,
      };
      let b = null;
      const feats = this.features.filter(f => m.countries.includes(f.properties.iso));
      if (feats.length) {
        const g = L.geoJSON({ type: "FeatureCollection", features: feats }, { ...style, style: () => style });
        this.missionLayer.addLayer(g);
        b = g.getBounds();
      }
      for (const x of m.boxes || []) {
        const r = L.rectangle([[x.South, x.West], [x.North, x.East]], style);
        this.missionLayer.addLayer(r);
        b = b ? b.extend(r.getBounds()) : r.getBounds();
      }
      if (b && label) {
        // Labelled at the area's northern edge so it never hides a marker inside.
        const t = L.tooltip({ pane: "missionLabels", permanent: true, direction: "top", className: "mission-label" + (on && selected ? " on" : ""), interactive: false })
          .setLatLng([b.getNorth(), b.getCenter().lng]).setContent(m.title || m.name);
        this.missionLayer.addLayer(t);
      }
      if (b && selected && m.name === selected) this.areaBounds = b.pad(0.4);
    }
    if (this.areaBounds) this.map.fitBounds(this.areaBounds, { maxZoom: 7 });
  }

  // setSituations replaces what the map shows with list (already filtered for the view).
  setSituations(list) {
    this.points.clear();
    const feats = [];
    const shaded = new Map();
    for (const s of list) {
      if (s.geo && Number.isFinite(s.geo.lat) && Number.isFinite(s.geo.lon)) {
        this.points.set(s.id, s);
        feats.push({
          type: "Feature", geometry: { type: "Point", coordinates: [s.geo.lon, s.geo.lat] },
          properties: { id: s.id, score: s.score, sev: sevRank(s.severity), outside: this.outsideOf(s).join(", ") },
        });
        continue;
      }
      for (const c of s.countries || []) {
        const sh = shaded.get(c) || { sev: 0, ids: [], top: -1 };
        sh.sev = Math.max(sh.sev, sevRank(s.severity));
        sh.ids.push(s.id); // list arrives ranked, so ids[0] is the top situation
        shaded.set(c, sh);
      }
    }
    this.index = new Supercluster({
      radius: 44, maxZoom: 11,
      map: p => ({ score: p.score, sev: p.sev }),
      reduce: (a, b) => { a.score = Math.max(a.score, b.score); a.sev = Math.max(a.sev, b.sev); },
    });
    this.index.load(feats);
    this.shade(shaded);
    this.renderMarkers();
  }

  // outsideOf returns the countries s names when its position lies in none of them
  // (drawn dashed, and said in the detail panel), cached per situation version.
  outsideOf(s) {
    if (!this.features || !s || !s.geo) return [];
    this.outside = this.outside || new Map();
    const key = `${s.id}@${s.version}@${s.geo.lat},${s.geo.lon}`;
    if (!this.outside.has(key)) {
      if (this.outside.size > 5000) this.outside.clear();
      this.outside.set(key, outsideCountries(s, c => this.features.filter(f => f.properties.iso === c)));
    }
    return this.outside.get(key);
  }

  shade(next) {
    for (const iso2 of new Set([...this.shaded.keys(), ...next.keys()])) {
      const sh = next.get(iso2);
      for (const l of this.countries.get(iso2) || []) {
        l.setStyle(sh ? {
          fillColor: SEVERITY_COLOUR[SEVERITIES[sh.sev]], fillOpacity: 0.42, color: "#c9d4e0", weight: 1,
        } : BASE_STYLE);
      }
    }
    this.shaded = next;
    this.outlineSelected();
  }

  renderMarkers() {
    if (!this.index) return;
    const b = this.map.getBounds();
    const z = Math.round(this.map.getZoom());
    const clusters = this.index.getClusters([Math.max(-180, b.getWest()), Math.max(-85, b.getSouth()),
      Math.min(180, b.getEast()), Math.min(85, b.getNorth())], z);
    this.markerLayer.clearLayers();
    // Single markers that overlap on screen are spread round their middle, each with a line
    // to where it is: a click lands on the marker under the cursor, never on one beneath.
    const sizeOf = p => (p.cluster ? 26 + Math.min(22, Math.sqrt(p.point_count) * 4) : 18 + p.score * 0.24);
    const keyOf = c => (c.properties.cluster ? `cluster:${c.id}` : c.properties.id);
    const moved = spread(clusters.map(c => {
      const pt = this.map.latLngToLayerPoint([c.geometry.coordinates[1], c.geometry.coordinates[0]]);
      return { x: pt.x, y: pt.y, r: sizeOf(c.properties) / 2, key: keyOf(c) };
    }));
    for (const c of clusters) {
      let [lon, lat] = c.geometry.coordinates;
      const p = c.properties;
      const to = moved.get(keyOf(c));
      if (to) {
        const at = L.latLng(lat, lon);
        const ll = this.map.layerPointToLatLng(L.point(to.x, to.y));
        this.markerLayer.addLayer(L.polyline([at, ll], { renderer: this.renderer, interactive: false, color: "#c9d4e0", weight: 1, opacity: 0.8 }));
        this.markerLayer.addLayer(L.circleMarker(at, { renderer: this.renderer, interactive: false, radius: 2, color: "#c9d4e0", weight: 1, fillOpacity: 1 }));
        [lat, lon] = [ll.lat, ll.lng];
      }
      const sev = SEVERITIES[p.sev];
      const node = el("div", `sit-marker sev-${sev}`);
      let size;
      if (p.cluster) {
        const ids = this.index.getLeaves(c.id, 200).map(f => f.properties.id);
        node.dataset.ids = ids.join(" ");
        node.classList.add("cluster");
        node.textContent = String(p.point_count);
        node.title = `${p.point_count} situations, top score ${Math.round(p.score)} — click to zoom in`;
        size = sizeOf(p);
        if (ids.includes(this.selected)) node.classList.add("selected");
      } else {
        const s = this.points.get(p.id);
        node.dataset.id = p.id;
        node.title = `score ${Math.round(p.score)} — ${s ? s.title : ""}` + (p.outside ? ` — position outside ${p.outside}` : "");
        node.textContent = String(Math.round(p.score));
        size = sizeOf(p); // sized by score: 18–42 px
        if (p.id === this.selected) node.classList.add("selected");
        if (p.outside) { node.classList.add("outside"); node.dataset.outside = p.outside; }
      }
      if (to) node.classList.add("spread");
      node.style.width = node.style.height = `${Math.round(size)}px`;
      node.style.lineHeight = `${Math.round(size) - 4}px`;
      const icon = L.divIcon({ html: node, className: "sit-icon", iconSize: [size, size] });
      const m = L.marker([lat, lon], { icon, keyboard: false, riseOnHover: true, zIndexOffset: p.score * 10 });
      m.on("click", () => {
        if (p.cluster) {
          const zoom = Math.min(this.index.getClusterExpansionZoom(c.id), 12);
          this.map.flyTo([lat, lon], zoom, { duration: 0.4 });
        } else {
          this.onSelect(p.id, "map");
        }
      });
      this.markerLayer.addLayer(m);
    }
  }

  outlineSelected() {
    if (this.selLayer) { this.map.removeLayer(this.selLayer); this.selLayer = null; }
    const s = this.selectedSituation;
    if (!s || s.geo || !(s.countries || []).length) return;
    const feats = (this.features || []).filter(f => s.countries.includes(f.properties.iso));
    this.selLayer = L.geoJSON({ type: "FeatureCollection", features: feats },
      { renderer: this.renderer, interactive: false, style: () => ({ color: "#ffffff", weight: 2.5, fill: false }) }).addTo(this.map);
  }

  // select highlights s (or nothing) and brings it into view when the list asked.
  select(s, reveal) {
    this.selected = s ? s.id : "";
    this.selectedSituation = s || null;
    this.outlineSelected();
    if (s && reveal) {
      if (s.geo) {
        const z = Math.max(this.map.getZoom(), 5);
        this.map.flyTo([s.geo.lat, s.geo.lon], z, { duration: 0.5 });
      } else if ((s.countries || []).length) {
        const b = this.countryBounds(s.countries);
        if (b) this.map.flyToBounds(b.pad(0.5), { maxZoom: 6, duration: 0.5 });
      }
    }
    this.renderMarkers();
  }

  // keepClear pans the map so that s's marker is not under panel (an element over the
  // map, such as the detail panel): it moves to the middle of the free part on the left.
  keepClear(s, panel) {
    if (!s || !s.geo || !panel || panel.hidden) return;
    const p = this.map.latLngToContainerPoint([s.geo.lat, s.geo.lon]);
    const left = panel.offsetLeft, top = panel.offsetTop, bottom = top + panel.offsetHeight;
    const margin = 40;
    if (p.x < left - margin || p.y < top - margin || p.y > bottom + margin) return;
    this.map.panBy([p.x - left / 2, 0], { animate: false });
  }

  invalidate() { this.map.invalidateSize(); }
}
