// The station page's hydrograph: uPlot (global uPlot, loaded before this module) over
// /console/api/stations/{ds}/series: observations (QC flags marked), rule levels as bands,
// the forecast with its 90 % band.
const el = document.getElementById('chart');
const note = document.getElementById('chart-note');
const ds = el.dataset.ds, hours = el.dataset.hours;
const bandColours = ['#fbc02d33', '#f57c0033', '#d32f2f33', '#7b1fa233'];

const r = await fetch(`/console/api/stations/${ds}/series?hours=${hours}`, { credentials: 'same-origin' });
if (!r.ok) { note.textContent = 'hydrograph unavailable: ' + r.status; throw new Error('series ' + r.status); }
const s = await r.json();

// one x axis: observation and forecast times merged
const times = [...new Set([...s.observations.map(p => p.t), ...s.forecast.map(p => p.t)])].sort((a, b) => a - b);
const idx = new Map(times.map((t, i) => [t, i]));
const col = () => new Array(times.length).fill(null);
const obs = col(), flagged = col(), fc = col(), lo = col(), hi = col();
for (const p of s.observations) { obs[idx.get(p.t)] = p.v; if (p.qc !== 'good') flagged[idx.get(p.t)] = p.v; }
for (const p of s.forecast) { const i = idx.get(p.t); fc[i] = p.v; lo[i] = p.lower; hi[i] = p.upper; }

const levels = s.levels || [];
const bands = {
  hooks: { drawClear: [u => {
    const ctx = u.ctx, { left, top, width, height } = u.bbox;
    ctx.save();
    levels.forEach((l, i) => {
      const next = levels[i + 1];
      const y1 = u.valToPos(l.value, 'y', true);
      const y2 = next ? u.valToPos(next.value, 'y', true) : (s.direction === 'below' ? top + height : top);
      const a = Math.max(top, Math.min(y1, y2)), b = Math.min(top + height, Math.max(y1, y2));
      if (b <= a) return;
      ctx.fillStyle = bandColours[Math.round(i * (bandColours.length - 1) / Math.max(1, levels.length - 1))];
      ctx.fillRect(left, a, width, b - a);
      ctx.fillStyle = '#555'; ctx.font = `${11 * devicePixelRatio}px sans-serif`;
      ctx.fillText(l.name, left + 4, y1 - 3);
    });
    ctx.restore();
  }] },
};

const vals = [...s.observations.map(p => p.v), ...s.forecast.map(p => p.upper), ...levels.map(l => l.value)];
const ymin = Math.min(...vals), ymax = Math.max(...vals);
const opts = {
  width: el.clientWidth || 900, height: 360, plugins: [bands],
  scales: { y: { range: [Math.min(0, ymin), ymax * 1.05] } },
  series: [
    {},
    { label: `observed (${s.unit})`, stroke: '#12355b', width: 2 },
    { label: 'QC flagged', stroke: 'transparent', points: { show: true, size: 9, stroke: '#d500f9', fill: '#d500f9' } },
    { label: 'forecast', stroke: '#c62828', width: 2, dash: [6, 4] },
    { label: 'forecast 90 % low', stroke: '#c6282855', width: 1 },
    { label: 'forecast 90 % high', stroke: '#c6282855', width: 1 },
  ],
  bands: [{ series: [5, 4], fill: '#c6282818' }],
  axes: [{}, { size: 70 }],
};
const plot = new uPlot(opts, [times, obs, flagged, fc, lo, hi], el);
window.rabtaChart = { plot, series: s };
note.textContent = `${s.observations.length} observations, ${s.forecast.length} forecast values, ${Object.entries(s.flags).map(([k, v]) => k + ' ' + v).join(', ')}`;
el.dataset.ready = 'true';
