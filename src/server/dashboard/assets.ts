import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

/** uPlot's files, from the installed package (no CDN: the dashboard works offline). */
const require = createRequire(import.meta.url);
const UPLOT = {
  'uplot.js': { file: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uplot.css': { file: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

const STYLE = `
:root { color-scheme: light dark; --bg: #f7f7f5; --fg: #1d1f21; --muted: #5f6368; --card: #fff; --line: #d9d9d6;
  --accent: #1f5fbf; --ok: #1a7f37; --warn: #9a6700; --bad: #c62828; --focus: #f2a900; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #15171a; --fg: #e6e6e3; --muted: #a0a4a8; --card: #1e2125; --line: #33373c; --accent: #79a8ff;
    --ok: #56d364; --warn: #e3b341; --bad: #ff7b72; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid var(--line); background: var(--card); }
header strong { font-size: 1.1rem; }
nav { display: flex; gap: 1rem; flex-wrap: wrap; }
nav a[aria-current="page"] { font-weight: 600; text-decoration: underline; }
.ro { margin-left: auto; color: var(--warn); font-size: .9rem; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
h1 { font-size: 1.4rem; margin: .4rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .6rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 420px), 1fr)); gap: 1rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .9rem 1rem; min-width: 0; }
.card h2 { margin: 0 0 .3rem; display: flex; gap: .6rem; align-items: center; flex-wrap: wrap; }
.muted { color: var(--muted); }
.small { font-size: .85rem; }
.badge { display: inline-block; padding: .05rem .55rem; border-radius: 999px; font-size: .8rem; font-weight: 600; border: 1px solid currentColor; }
.fresh, .ok { color: var(--ok); } .stale, .warn { color: var(--warn); } .failing, .bad { color: var(--bad); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .8rem; margin: .6rem 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.problems { color: var(--bad); margin: .4rem 0; padding-left: 1.2rem; }
.actions { display: flex; gap: .5rem; flex-wrap: wrap; margin-top: .6rem; }
.actions form { margin: 0; }
button, .button { font: inherit; padding: .4rem .9rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; display: inline-block; }
@media (prefers-color-scheme: dark) { button, .button { color: #0d1117; } }
button.secondary, .button.secondary { background: transparent; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
input, select { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: 6px; background: var(--card); color: var(--fg); max-width: 100%; }
label { display: inline-flex; flex-direction: column; gap: .2rem; font-size: .9rem; }
.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; margin-bottom: 1rem; }
.table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; white-space: nowrap; }
td.wrap { white-space: normal; overflow-wrap: anywhere; min-width: 14rem; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:last-child td { border-bottom: 0; }
.chart { margin-top: .6rem; min-height: 170px; }
.chart .u-legend { font-size: .8rem; }
fieldset { border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; margin: 1rem 0; background: var(--card); }
fieldset > * + * { margin-top: .6rem; }
legend { font-weight: 600; padding: 0 .3rem; }
.radio { display: flex; flex-direction: row; align-items: center; gap: .4rem; }
.indent { margin: .3rem 0 0 1.6rem; }
progress { width: 100%; height: 1.2rem; }
.notice { padding: .7rem 1rem; border-radius: 8px; border: 1px solid var(--line); background: var(--card); margin: 1rem 0; }
.notice.bad { border-color: var(--bad); } .notice.ok { border-color: var(--ok); }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .88rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0; }
ol.steps { padding-left: 1.3rem; }
ul.findings { margin: 0; padding-left: 1.1rem; }
@media (max-width: 600px) { main { padding: .6rem; } .cards { grid-template-columns: 1fr; } }
`;

/** A little plain JavaScript: charts, and a job's live progress (server-sent events). */
const SCRIPT = `
(function () {
  var data = document.getElementById('charts-data');
  if (data && window.uPlot) {
    var charts = JSON.parse(data.textContent);
    var css = getComputedStyle(document.documentElement);
    var fg = css.getPropertyValue('--muted').trim(), line = css.getPropertyValue('--line').trim();
    var axis = function (scale, label, side) {
      return { scale: scale, label: label, side: side, stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line } };
    };
    document.querySelectorAll('[data-chart]').forEach(function (el) {
      var c = charts[el.getAttribute('data-chart')];
      if (!c || c[0].length < 2) { el.textContent = 'A chart appears after two backups.'; el.classList.add('muted', 'small'); return; }
      var width = function () { return Math.max(240, el.clientWidth); };
      var big = Math.max.apply(null, c[1]) >= 1048576, unit = big ? 'MB' : 'kB', div = big ? 1048576 : 1024;
      c = [c[0], c[1].map(function (b) { return Math.round(b / div * 100) / 100; }), c[2]];
      var plot = new uPlot({
        width: width(), height: 170,
        scales: { x: { time: true }, mb: {}, s: {} },
        series: [{}, { label: 'size (' + unit + ')', scale: 'mb', stroke: css.getPropertyValue('--accent').trim(), width: 2, points: { show: true } },
                 { label: 'duration (s)', scale: 's', stroke: css.getPropertyValue('--warn').trim(), width: 2, points: { show: true } }],
        axes: [{ stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line } }, axis('mb', unit, 3), axis('s', 's', 1)]
      }, c, el);
      window.addEventListener('resize', function () { plot.setSize({ width: width(), height: 170 }); });
    });
  }

  var job = document.querySelector('[data-job][data-state="running"]');
  if (job) {
    var bar = job.querySelector('progress'), text = job.querySelector('[data-progress]'), steps = job.querySelector('ol.steps');
    var mb = function (n) { return (n / 1048576).toFixed(1) + ' MB'; };
    var source = new EventSource('/jobs/' + job.getAttribute('data-job') + '/events');
    source.addEventListener('progress', function (e) {
      var p = JSON.parse(e.data);
      if (p.total) { bar.max = p.total; bar.value = p.bytes; } else { bar.removeAttribute('value'); }
      text.textContent = p.phase + ': ' + mb(p.bytes) + (p.total ? ' of ' + mb(p.total) : '');
    });
    source.addEventListener('step', function (e) {
      var li = document.createElement('li'); li.textContent = JSON.parse(e.data).text; steps.appendChild(li);
    });
    var finish = function () { source.close(); location.reload(); };
    source.addEventListener('done', finish);
    source.addEventListener('failed', finish);
  }
})();
`;

export async function asset(name: string): Promise<{ body: string; type: string } | undefined> {
  if (name === 'app.css') return { body: STYLE, type: 'text/css; charset=utf-8' };
  if (name === 'app.js') return { body: SCRIPT, type: 'text/javascript; charset=utf-8' };
  const uplot = UPLOT[name as keyof typeof UPLOT];
  return uplot ? { body: await readFile(uplot.file(), 'utf8'), type: uplot.type } : undefined;
}
