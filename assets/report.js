/* loadtester HTML report: hover read-outs on the charts, and a marker on <body> saying
 * what was drawn (data-charts, data-charts-drawn, data-points, data-errors, data-rendered)
 * so a headless browser can check the page. Embedded by src/report/html.rs. */
(function () {
  'use strict';
  var errors = [];
  var body = document.body;
  var charts = document.querySelectorAll('svg.chart');
  var drawn = 0;
  var points = 0;
  function mark() {
    body.setAttribute('data-charts', String(charts.length));
    body.setAttribute('data-charts-drawn', String(drawn));
    body.setAttribute('data-points', String(points));
    body.setAttribute('data-errors', String(errors.length));
    body.setAttribute('data-rendered',
      errors.length === 0 && charts.length > 0 && drawn === charts.length ? 'ok' : 'incomplete');
  }
  window.addEventListener('error', function (e) { errors.push(String(e.message)); mark(); });

  var tip = document.createElement('div');
  tip.className = 'tip';
  tip.hidden = true;
  body.appendChild(tip);

  function nearest(xs, t) {
    var best = -1;
    var dist = Infinity;
    for (var i = 0; i < xs.length; i++) {
      var d = Math.abs(xs[i] - t);
      if (d < dist) { dist = d; best = i; }
    }
    return best;
  }

  function hover(svg) {
    var xs = svg.getAttribute('data-xs').split(',').map(Number);
    var x0 = Number(svg.getAttribute('data-x0'));
    var x1 = Number(svg.getAttribute('data-x1'));
    var xmax = Number(svg.getAttribute('data-xmax'));
    var series = Array.prototype.map.call(svg.querySelectorAll('polyline.series'), function (p) {
      return { name: p.getAttribute('data-name'), values: p.getAttribute('data-values').split(',').map(Number) };
    });
    var cursor = document.createElementNS('http://www.w3.org/2000/svg', 'line');
    cursor.setAttribute('class', 'cursor');
    cursor.setAttribute('y1', '26');
    cursor.setAttribute('y2', '210');
    cursor.style.display = 'none';
    svg.appendChild(cursor);
    svg.addEventListener('mousemove', function (ev) {
      var ctm = svg.getScreenCTM();
      if (!ctm) { return; }
      var pt = svg.createSVGPoint();
      pt.x = ev.clientX;
      pt.y = ev.clientY;
      var p = pt.matrixTransform(ctm.inverse());
      var i = nearest(xs, (p.x - x0) / (x1 - x0) * xmax);
      if (i < 0) { return; }
      var cx = x0 + xs[i] / xmax * (x1 - x0);
      cursor.setAttribute('x1', String(cx));
      cursor.setAttribute('x2', String(cx));
      cursor.style.display = '';
      var text = 't = ' + xs[i] + ' s';
      series.forEach(function (s) {
        if (i < s.values.length) { text += '\n' + s.name + ': ' + s.values[i]; }
      });
      tip.textContent = text;
      tip.hidden = false;
      tip.style.left = (ev.pageX + 14) + 'px';
      tip.style.top = (ev.pageY + 14) + 'px';
    });
    svg.addEventListener('mouseleave', function () {
      cursor.style.display = 'none';
      tip.hidden = true;
    });
  }

  Array.prototype.forEach.call(charts, function (svg) {
    var ok = false;
    Array.prototype.forEach.call(svg.querySelectorAll('polyline.series, rect.bar'), function (s) {
      var b = s.getBBox();
      if (b.width > 0 || b.height > 0) { ok = true; }
      if (s.tagName === 'polyline') {
        points += s.points.numberOfItems;
      } else if (Number(s.getAttribute('data-count')) > 0) {
        points += 1;
      }
    });
    if (ok) {
      drawn += 1;
      svg.setAttribute('data-drawn', 'true');
    }
    if (svg.getAttribute('data-kind') === 'line') { hover(svg); }
  });
  mark();

  // Labels that overlap each other or stick out of their chart or figure: counted on
  // <body data-label-issues>, the first few described in data-label-issue-list.
  var issues = [];
  function overlap(a, b) {
    return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  }
  Array.prototype.forEach.call(charts, function (svg) {
    var vb = svg.viewBox.baseVal;
    var texts = Array.prototype.map.call(svg.querySelectorAll('text'), function (t) {
      return { text: t.textContent, box: t.getBBox() };
    });
    texts.forEach(function (t, i) {
      var b = t.box;
      if (b.x < vb.x - 0.5 || b.y < vb.y - 0.5 || b.x + b.width > vb.x + vb.width + 0.5 ||
          b.y + b.height > vb.y + vb.height + 0.5) {
        issues.push(svg.id + ': "' + t.text + '" is clipped');
      }
      for (var j = i + 1; j < texts.length; j++) {
        if (overlap(b, texts[j].box)) {
          issues.push(svg.id + ': "' + t.text + '" overlaps "' + texts[j].text + '"');
        }
      }
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll('figure'), function (f) {
    var fr = f.getBoundingClientRect();
    Array.prototype.forEach.call(f.querySelectorAll('figcaption, .legend span'), function (el) {
      var r = el.getBoundingClientRect();
      if (r.left < fr.left - 0.5 || r.right > fr.right + 0.5) {
        issues.push('"' + el.textContent.slice(0, 40) + '" sticks out of its figure');
      }
    });
  });
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    issues.push('the page is wider than the window');
  }
  body.setAttribute('data-label-issues', String(issues.length));
  body.setAttribute('data-label-issue-list', issues.slice(0, 5).join(' | '));
})();
