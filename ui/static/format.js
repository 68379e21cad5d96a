// Shared vocabulary of the dashboard: severity and TLP colours, sectors, formatting.

export const SEVERITIES = ["info", "low", "medium", "high", "critical"];
export const SEVERITY_COLOUR = {
  critical: "#ff3b3b", high: "#ff8a1f", medium: "#f5d000", low: "#41b6e6", info: "#8d99ae",
};
export const sevRank = s => Math.max(0, SEVERITIES.indexOf(s));

// TLP 2.0 colours (FIRST): text colour on a black background.
export const TLP_CLASS = {
  "CLEAR": "tlp-clear", "GREEN": "tlp-green", "AMBER": "tlp-amber", "AMBER+STRICT": "tlp-amber", "RED": "tlp-red",
};

// NIS2 sectors plus the two COP adds (DESIGN.md).
export const SECTORS = [
  "energy", "transport", "banking", "financial-market-infrastructure", "health", "drinking-water",
  "waste-water", "digital-infrastructure", "ict-service-management", "public-administration",
  "space", "defence", "submarine-cable", "telecom",
];

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

export function tlpBadge(tlp) {
  const b = el("span", "tlp " + (TLP_CLASS[tlp] || "tlp-clear"), "TLP:" + (tlp || "?"));
  b.title = "Traffic Light Protocol marking";
  return b;
}

export function ago(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (!t) return "—";
  const s = Math.max(0, (now - t) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function utc(iso) {
  const t = Date.parse(iso);
  return t ? new Date(t).toISOString().replace("T", " ").slice(0, 19) + "Z" : "—";
}

export const pretty = s => String(s || "").replace(/-/g, " ");

// linkText says in words why a campaign's situations were grouped (picture.CampaignLink):
// its key is "what|…|sector|window start" for the kinds that say what was done.
export function linkText(l) {
  const p = String(l.key || "").split("|");
  switch (l.kind) {
    case "campaign": return `named ${p[0]}`;
    case "actor": return `${p[0]}: ${pretty(p[1] || "")} against ${pretty(p[p.length - 2] || "")}`;
    case "malware": return `malware ${p[0]} against ${pretty(p[p.length - 2] || "")}`;
    case "exploit": return `${p[0]} exploited against ${pretty(p[1] || "")}`;
    case "deed": case "pattern": return `${pretty(p[0])} against ${pretty(p[p.length - 2] || "")}, same day`;
    case "ipv4-24": case "ipv6-48": return `addresses in ${p[0]}`;
    case "domain": return `domain ${p[0]}`;
    default: return p[0];
  }
}
