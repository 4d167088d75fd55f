/* Status-card sparklines: the server keeps a small figure-shaped dict per card in a Store
   (data[0].x/y, data[0].line.color, layout.xaxis.range) and patches only new points into it;
   this draws it as one SVG path in an <img>. Eleven plotly graphs cost a cold load about 0.4 s
   of main thread and redrew on every tick; a path of 120 points costs well under 1 ms. */
(function () {
  const W = 300, H = 48, PAD = 3;
  const time = x => Date.parse(String(x).replace(' ', 'T'));
  const esc = s => String(s).replace(/[^#(),.\w ]/g, '');

  function sparkline(fig) {
    const none = window.dash_clientside.no_update;
    const trace = fig && fig.data && fig.data[0];
    if (!trace) return [none, none];
    const xs = Array.from(trace.x || []), ys = Array.from(trace.y || []);
    const range = (fig.layout && fig.layout.xaxis && fig.layout.xaxis.range) ||
      [xs[0], xs[xs.length - 1]];
    const x0 = time(range[0]), x1 = time(range[1]);
    const finite = ys.filter(y => y !== null && Number.isFinite(y));
    let low = Math.min(...finite), high = Math.max(...finite);
    if (!finite.length) { low = 0; high = 1; }
    if (high === low) { low -= 1; high += 1; }
    const px = x => (x1 > x0 ? (time(x) - x0) / (x1 - x0) : 1) * W;
    const py = y => PAD + (1 - (y - low) / (high - low)) * (H - 2 * PAD);
    let d = '', pen = false;
    xs.forEach((x, i) => {
      const y = ys[i];
      if (y === null || y === undefined || !Number.isFinite(y)) { pen = false; return; }
      d += (pen ? 'L' : 'M') + px(x).toFixed(1) + ' ' + py(y).toFixed(1);
      pen = true;
    });
    const colour = esc((trace.line && trace.line.color) || '#888888');
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' + W + ' ' + H +
      '" preserveAspectRatio="none"><path d="' + d + '" fill="none" stroke="' + colour +
      '" stroke-width="2" stroke-linejoin="round" vector-effect="non-scaling-stroke"/></svg>';
    return ['data:image/svg+xml,' + encodeURIComponent(svg), xs.length ? String(xs[xs.length - 1]) : ''];
  }

  /* Every card at once: one callback run and one store update for all the lines (eleven MATCH
     runs meant eleven updates, each walked by every component of the page while it loaded). */
  function sparklines(figs) {
    const drawn = (figs || []).map(sparkline);
    return [drawn.map(d => d[0]), drawn.map(d => d[1])];
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.tamma = Object.assign(window.dash_clientside.tamma || {}, {sparklines});
})();
