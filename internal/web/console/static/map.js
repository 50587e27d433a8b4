// The console's map: Leaflet (global L, loaded before this module) with its canvas renderer;
// stations coloured by flood class with a QC ring, districts from /console/api/districts, and
// (on request) the villages. It polls /console/api/stations every data-poll seconds.
const el = document.getElementById('map');
const poll = Math.max(1, Number(el.dataset.poll || 5));
const map = L.map(el, { preferCanvas: true, zoomSnap: 0.25 }).setView([30.5, 70.5], 5.5);
// three canvases, bottom to top: districts, villages, stations (so that a layer loaded later
// never covers a station)
map.createPane('districts').style.zIndex = 350;
map.createPane('villages').style.zIndex = 380;
const under = L.canvas({ padding: 0.2, pane: 'districts' });
const middle = L.canvas({ padding: 0.2, pane: 'villages' });
const canvas = L.canvas({ padding: 0.2 });
if (el.dataset.tiles) {
  L.tileLayer(el.dataset.tiles, { maxZoom: 18, attribution: 'tiles: configured console_tile_url' }).addTo(map);
}
for (const i of document.querySelectorAll('[data-colour]')) {
  if (i.classList.contains('ring')) i.style.borderColor = i.dataset.colour; else if (i.classList.contains('dot')) i.style.background = i.dataset.colour;
}

const markers = new Map(); // datastream → circle marker
const state = { updated: null, stations: [], changes: [], villages: null, frames: [] };
window.rabtaMap = { map, markers, state, canvas, under, middle }; // read by the browser tests

async function getJSON(url) {
  const r = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (r.status === 401) { location.href = '/console/signin?next=/console/'; throw new Error('signed out'); }
  if (!r.ok) throw new Error(url + ': ' + r.status);
  return r.json();
}

async function districts() {
  const gj = await getJSON('/console/api/districts');
  L.geoJSON(gj, { renderer: under, interactive: false,
    style: { color: '#56718f', weight: 0.8, fill: true, fillColor: '#ffffff', fillOpacity: 0.35 } }).addTo(map);
  state.districts = gj.features.length;
}

function tip(s) {
  const v = s.value == null ? 'no reading' : `${s.value} ${s.unit}`;
  return `<b>${esc(s.name)}</b>${esc(v)}<br>${esc(s.class || 'below every level')}${s.trend ? ', ' + esc(s.trend) : ''}<br>QC ${esc(s.qc || 'unknown')}<br><a href="/console/stations/${s.datastream}">hydrograph</a>`;
}
function esc(s) { return String(s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c])); }

async function stations() {
  const v = await getJSON('/console/api/stations');
  const now = performance.now();
  for (const s of v.stations) {
    let m = markers.get(s.datastream);
    if (!m) {
      m = L.circleMarker([s.lat, s.lon], { renderer: canvas, radius: 9, weight: 3 }).addTo(map);
      m.on('click', () => { location.href = '/console/stations/' + s.datastream; });
      markers.set(s.datastream, m);
    }
    if (m.options.fillColor !== s.colour) state.changes.push({ ds: s.datastream, colour: s.colour, at: Date.now() });
    m.setStyle({ fillColor: s.colour, fillOpacity: 0.95, color: s.ring });
    m.bindTooltip(tip(s), { className: 'station-tip' });
    const row = document.querySelector(`#stations tr[data-ds="${s.datastream}"]`);
    if (row) {
      row.dataset.colour = s.colour;
      const td = row.querySelectorAll('td');
      td[1].textContent = s.value == null ? '— ' + s.unit : `${s.value} ${s.unit}`;
      td[2].textContent = s.time ? s.time.slice(0, 16).replace('T', ' ') + 'Z' : '—';
      td[3].textContent = s.class || '—';
      td[4].textContent = s.trend || '';
      td[5].textContent = s.qc || '';
    }
  }
  if (!state.fitted && v.stations.length) { // the first answer: show every station
    state.fitted = true;
    const b = L.latLngBounds(v.stations.map(s => [s.lat, s.lon]));
    map.fitBounds(b.pad(0.3), { maxZoom: 9 });
  }
  state.stations = v.stations;
  state.updated = v.generated;
  state.drawMs = performance.now() - now;
  document.getElementById('updated').textContent = 'updated ' + new Date(v.generated).toLocaleTimeString();
}

async function villages(on) {
  if (!on) { if (state.villageLayer) map.removeLayer(state.villageLayer); return; }
  if (!state.villages) {
    const v = await getJSON('/console/api/villages');
    const colours = { 'fibre': '#1565c0', 'mobile-data': '#00897b', 'sms-only': '#8d6e63', 'none': '#424242' };
    state.villageLayer = L.layerGroup(v.villages.map(([lat, lon, c]) => L.circleMarker([lat, lon],
      { renderer: middle, radius: 1.5, weight: 0, fillOpacity: 0.7, fillColor: colours[c] || '#757575', interactive: false })));
    state.villages = v.villages.length;
  }
  state.villageLayer.addTo(map);
}
document.getElementById('villages').addEventListener('change', e => villages(e.target.checked).catch(console.error));
window.rabtaMap.villages = on => { document.getElementById('villages').checked = on; return villages(on); };

// frameTime redraws the canvas n times and returns the mean milliseconds per frame (the
// browser test's figure with all stations and the villages drawn).
window.rabtaMap.frameTime = function (n) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) { under._redraw(); middle._redraw(); canvas._redraw(); }
  return (performance.now() - t0) / n;
};

async function loop() {
  try { await stations(); } catch (e) { console.error(e); }
  setTimeout(loop, poll * 1000);
}
districts().catch(console.error).finally(() => { state.ready = true; });
loop();
