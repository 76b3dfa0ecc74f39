// The portal's stylesheet and its one script, served from the portal itself (no CDN): the content
// security policy allows only the portal's own origin. The layout works from a phone's width up
// (one column, large touch targets) to a desk (cards side by side).

export const stylesheet = `
:root { --ink: #1b1f24; --muted: #4a5560; --accent: #0b5cad; --danger: #a4161a; --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--ink); background: var(--bg); }
a { color: var(--accent); }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 8px; }
header { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; justify-content: space-between; padding: 12px 16px; background: #fff; border-bottom: 1px solid var(--line); }
header .brand { font-weight: 700; font-size: 1.1rem; }
header nav { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
main { max-width: 1100px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.5rem; margin: 8px 0 16px; }
h2 { font-size: 1.15rem; margin: 0 0 12px; }
.grid { display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px; }
.grid + .panel { margin-top: 16px; } caption { text-align: left; font-weight: 600; padding: 12px 0 4px; }
.figure { font-size: 1.6rem; font-weight: 700; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 4px 16px; margin: 0; } dt { color: var(--muted); } dd { margin: 0; font-weight: 600; }
form.inline { display: inline; }
label { display: block; margin: 8px 0 4px; font-weight: 600; }
input, select { font: inherit; padding: 10px; width: 100%; max-width: 320px; border: 1px solid var(--muted); border-radius: 6px; }
label.check { display: flex; gap: 10px; align-items: center; font-weight: 400; } label.check input { width: 24px; height: 24px; padding: 0; margin: 0; }
button { font: inherit; padding: 10px 16px; min-height: 44px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; margin-top: 12px; }
button.danger { background: var(--danger); border-color: var(--danger); }
button.link { background: none; color: var(--accent); border: none; padding: 0; min-height: 0; margin: 0; text-decoration: underline; }
table { width: 100%; border-collapse: collapse; } th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.notice { padding: 12px; border-radius: 6px; background: #e6f4ea; border: 1px solid #2e7d32; margin-bottom: 16px; }
.error { padding: 12px; border-radius: 6px; background: #fdecea; border: 1px solid var(--danger); margin-bottom: 16px; }
.chart { width: 100%; max-width: 560px; height: auto; } .chart-bar { fill: var(--accent); } .chart-label, .chart-value { font-size: 13px; fill: var(--ink); }
.table-wrap { overflow-x: auto; }
.spaced { margin-top: 16px; }
`;

/** Refreshes the figures of the organizer's statistics from the portal's JSON API every 2 s. */
export const live_script = `
(function () {
  var root = document.querySelector('[data-live]');
  if (!root) return;
  var url = root.getAttribute('data-live');
  function refresh() {
    fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body) return;
        Object.keys(body.shown).forEach(function (name) {
          var element = root.querySelector('[data-stat="' + name + '"]');
          if (element) element.textContent = body.shown[name];
        });
      })
      .catch(function () {})
      .then(function () { setTimeout(refresh, 2000); });
  }
  setTimeout(refresh, 2000);
})();
`;
