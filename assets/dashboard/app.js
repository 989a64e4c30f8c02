// perfprobe dashboard: live charts (uPlot) fed by Server-Sent Events from
// /api/metrics/stream. A `snapshot` event (sent on every connect, so also
// after a server restart) replaces the data; `samples` events append to it.
'use strict';
(function () {
  var MAX_POINTS = 3600;
  var PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];
  var params = new URLSearchParams(location.search);
  var token = params.get('token');
  var streamUrl = 'api/metrics/stream' + (token ? '?token=' + encodeURIComponent(token) : '');

  var statusEl = document.getElementById('status');
  var updatedEl = document.getElementById('updated');
  var noGpuEl = document.getElementById('no-gpu');
  var tableBody = document.querySelector('#operations tbody');
  var devicesEl = document.getElementById('gpu-devices');
  var devicesCard = document.getElementById('gpu-devices-card');
  var eventsCard = document.getElementById('gpu-events-card');
  var eventsBody = document.querySelector('#gpu-events tbody');
  var MAX_EVENTS = 50;
  var gpuEvents = [];

  // --- data kept in the page ---
  var mem = { x: [], used: [], proc: [] };
  var gpu = { x: [], ids: [], util: {}, memory: {}, power: {}, temp: {} };
  var lat = { x: [], ops: [], p50: {}, p95: {}, p99: {} };
  var charts = {};
  var state = { events: 0, connects: 0 };

  function width(el) { return Math.max(300, el.clientWidth || 400); }

  function makeChart(id, seriesLabels, opts) {
    var el = document.getElementById(id);
    if (charts[id]) { charts[id].destroy(); delete charts[id]; }
    el.textContent = '';
    var series = [{}];
    seriesLabels.forEach(function (label, i) {
      series.push({ label: label, stroke: opts && opts.colors ? opts.colors[i] : PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true,
        dash: opts && opts.dashes ? opts.dashes[i] : undefined });
    });
    var data = [[]];
    seriesLabels.forEach(function () { data.push([]); });
    charts[id] = new uPlot({
      width: width(el), height: 200, series: series,
      scales: { x: { time: true }, y: opts && opts.range ? { range: opts.range } : { auto: true } },
      axes: [{}, { size: 60 }],
      legend: { live: true },
    }, data, el);
    return charts[id];
  }

  function trim(arrays) {
    var n = arrays[0].length - MAX_POINTS;
    if (n > 0) arrays.forEach(function (a) { a.splice(0, n); });
  }

  // --- memory ---
  function addMemory(rows) {
    rows.forEach(function (r) { mem.x.push(r[0] / 1000); mem.used.push(r[1]); mem.proc.push(r[4]); });
    trim([mem.x, mem.used, mem.proc]);
  }
  function drawMemory() {
    if (!charts['chart-system']) makeChart('chart-system', ['used MB']);
    if (!charts['chart-process']) makeChart('chart-process', ['process RSS MB']);
    charts['chart-system'].setData([mem.x.slice(), mem.used.slice()]);
    charts['chart-process'].setData([mem.x.slice(), mem.proc.slice()]);
  }

  // --- GPUs: rows [t, gpuId, load, memUsed, memTotal, temp, power] grouped by timestamp ---
  function addGpus(rows) {
    var rebuild = false;
    var byTime = new Map();
    rows.forEach(function (r) {
      if (gpu.ids.indexOf(r[1]) < 0) { gpu.ids.push(r[1]); gpu.ids.sort(function (a, b) { return a - b; }); rebuild = true; }
      var key = r[0];
      if (!byTime.has(key)) byTime.set(key, []);
      byTime.get(key).push(r);
    });
    gpu.ids.forEach(function (id) {
      ['util', 'memory', 'power', 'temp'].forEach(function (k) {
        if (!gpu[k][id]) gpu[k][id] = gpu.x.map(function () { return null; });
      });
    });
    byTime.forEach(function (list, t) {
      gpu.x.push(t / 1000);
      gpu.ids.forEach(function (id) {
        var r = list.find(function (x) { return x[1] === id; });
        gpu.util[id].push(r ? r[2] : null);
        gpu.memory[id].push(r ? r[3] : null);
        gpu.temp[id].push(r ? r[5] : null);
        gpu.power[id].push(r ? r[6] : null);
      });
    });
    var all = [gpu.x];
    gpu.ids.forEach(function (id) { all.push(gpu.util[id], gpu.memory[id], gpu.power[id], gpu.temp[id]); });
    trim(all);
    return rebuild;
  }
  function drawGpus(rebuild) {
    noGpuEl.hidden = gpu.ids.length > 0;
    document.getElementById('gpu-charts').hidden = gpu.ids.length === 0;
    if (gpu.ids.length === 0) return;
    var labels = gpu.ids.map(function (id) { return 'GPU ' + id; });
    var defs = [['chart-gpu-util', 'util', [0, 100]], ['chart-gpu-mem', 'memory'], ['chart-gpu-power', 'power'], ['chart-gpu-temp', 'temp']];
    defs.forEach(function (d) {
      if (rebuild || !charts[d[0]]) makeChart(d[0], labels, d[2] ? { range: d[2] } : undefined);
      var data = [gpu.x.slice()];
      gpu.ids.forEach(function (id) { data.push(gpu[d[1]][id].slice()); });
      charts[d[0]].setData(data);
    });
  }

  // --- operation latencies (recent p50/p95/p99 per operation, top 3 by count) ---
  function addOperations(now, ops) {
    var top = ops.slice(0, 3).map(function (o) { return o.operation; });
    var rebuild = top.join('\u0000') !== lat.ops.join('\u0000');
    if (rebuild) {
      lat.ops = top;
      top.forEach(function (op) {
        ['p50', 'p95', 'p99'].forEach(function (p) { if (!lat[p][op]) lat[p][op] = lat.x.map(function () { return null; }); });
      });
    }
    if (top.length) {
      lat.x.push(now / 1000);
      top.forEach(function (op) {
        var o = ops.find(function (x) { return x.operation === op; });
        lat.p50[op].push(o ? o.recentP50Ms : null);
        lat.p95[op].push(o ? o.recentP95Ms : null);
        lat.p99[op].push(o ? o.recentP99Ms : null);
      });
      var all = [lat.x];
      top.forEach(function (op) { all.push(lat.p50[op], lat.p95[op], lat.p99[op]); });
      trim(all);
    }
    return rebuild;
  }
  function drawLatency(rebuild) {
    var labels = [];
    var dashes = [];
    lat.ops.forEach(function (op) { labels.push(op + ' p50', op + ' p95', op + ' p99'); dashes.push(undefined, [6, 3], [2, 3]); });
    if (rebuild || !charts['chart-latency']) {
      // one colour per operation, dash style per percentile
      var colors = labels.map(function (_, i) { return PALETTE[Math.floor(i / 3) % PALETTE.length]; });
      makeChart('chart-latency', labels, { dashes: dashes, colors: colors });
    }
    var data = [lat.x.slice()];
    lat.ops.forEach(function (op) { data.push(lat.p50[op].slice(), lat.p95[op].slice(), lat.p99[op].slice()); });
    charts['chart-latency'].setData(data);
  }

  function fmt(v) { return v === null || v === undefined ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(2); }
  function drawTable(ops) {
    tableBody.textContent = '';
    if (!ops.length) {
      var tr0 = document.createElement('tr');
      var td0 = document.createElement('td');
      td0.colSpan = 7; td0.className = 'note'; td0.textContent = 'no operations recorded yet';
      tr0.appendChild(td0); tableBody.appendChild(tr0);
      return;
    }
    ops.forEach(function (o) {
      var tr = document.createElement('tr');
      [o.operation, String(o.count), o.successRate === null ? '-' : o.successRate.toFixed(1) + ' %', fmt(o.avgMs), fmt(o.p50Ms), fmt(o.p95Ms), fmt(o.p99Ms)]
        .forEach(function (text) { var td = document.createElement('td'); td.textContent = text; tr.appendChild(td); });
      tableBody.appendChild(tr);
    });
  }

  // --- GPUs now: P-state, throttle reasons, memory temperature, PCIe, ECC, MIG, nvitop's process table ---
  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  var TYPE = { compute: 'C', graphics: 'G', 'compute+graphics': 'C+G' };
  function drawDevices(devices) {
    devicesCard.hidden = !devices || devices.length === 0;
    devicesEl.textContent = '';
    (devices || []).forEach(function (d) {
      var card = el('div', 'device');
      card.setAttribute('data-gpu', String(d.gpuId));
      card.appendChild(el('h3', null, 'GPU ' + d.gpuId + (d.name ? '  ' + d.name : '') + (d.status !== 'ok' ? '  [' + d.status + ']' : '')));
      var facts = el('div', 'facts');
      if (d.performanceState !== null) facts.appendChild(el('span', 'badge pstate', 'P' + d.performanceState));
      var reasons = d.clocksEventReasons;
      if (reasons) {
        if (reasons.length === 0) facts.appendChild(el('span', 'badge full', 'clocks: full speed'));
        reasons.forEach(function (r) { facts.appendChild(el('span', r === 'gpu_idle' ? 'badge idle' : 'badge throttle', r)); });
      }
      if (d.memoryTemperatureCelsius !== null) facts.appendChild(el('span', 'badge', 'memory ' + d.memoryTemperatureCelsius + ' \u00b0C'));
      if (d.pcieLinkGeneration !== null) facts.appendChild(el('span', 'badge', 'PCIe Gen' + d.pcieLinkGeneration + (d.pcieLinkWidth !== null ? ' x' + d.pcieLinkWidth : '')));
      if (d.eccErrors) {
        var e = d.eccErrors;
        var bad = (e.uncorrectedVolatile || 0) > 0;
        facts.appendChild(el('span', bad ? 'badge ecc-bad' : 'badge', 'ECC ' + fmtCount(e.correctedVolatile) + ' corrected / ' + fmtCount(e.uncorrectedVolatile) + ' uncorrected'));
      }
      if (d.mig) facts.appendChild(el('span', 'badge', 'MIG ' + (d.mig.currentMode ? 'on, ' + d.mig.devices + ' devices' : 'off')));
      card.appendChild(facts);
      var table = el('table', 'processes');
      var head = el('tr');
      ['pid', 'name', 'type', 'GPU memory', 'SM %'].forEach(function (h) { head.appendChild(el('th', null, h)); });
      var thead = el('thead');
      thead.appendChild(head);
      table.appendChild(thead);
      var body = el('tbody');
      if (d.processes.length === 0) {
        var tr0 = el('tr');
        var td0 = el('td', 'note', 'no processes');
        td0.colSpan = 5;
        tr0.appendChild(td0);
        body.appendChild(tr0);
      }
      d.processes.forEach(function (p) {
        var tr = el('tr');
        [String(p.pid), p.name || '?', TYPE[p.type] || p.type, p.usedMemoryMb === null ? '-' : p.usedMemoryMb.toFixed(0) + ' MB', p.smUtilPercent === null ? '-' : p.smUtilPercent + ' %']
          .forEach(function (text) { tr.appendChild(el('td', null, text)); });
        body.appendChild(tr);
      });
      if (d.more > 0) {
        var trm = el('tr');
        var tdm = el('td', 'note', '... ' + d.more + ' more');
        tdm.colSpan = 5;
        trm.appendChild(tdm);
        body.appendChild(trm);
      }
      table.appendChild(body);
      card.appendChild(table);
      devicesEl.appendChild(card);
    });
  }
  function fmtCount(v) { return v === null || v === undefined ? '?' : String(v); }

  // --- GPU events: newest first, at most MAX_EVENTS ---
  function addEvents(list, snapshot) {
    if (snapshot) gpuEvents = [];
    (list || []).forEach(function (e) { gpuEvents.push(e); });
    if (gpuEvents.length > MAX_EVENTS) gpuEvents.splice(0, gpuEvents.length - MAX_EVENTS);
    eventsCard.hidden = gpuEvents.length === 0;
    eventsBody.textContent = '';
    gpuEvents.slice().reverse().forEach(function (e) {
      var tr = el('tr', e.type === 'xid' || e.type === 'ecc_double_bit' ? 'event-bad' : null);
      [new Date(e.timestamp).toLocaleTimeString(), 'GPU ' + e.gpuId, e.text].forEach(function (text) { tr.appendChild(el('td', null, text)); });
      eventsBody.appendChild(tr);
    });
  }

  function reset() {
    mem = { x: [], used: [], proc: [] };
    gpu = { x: [], ids: [], util: {}, memory: {}, power: {}, temp: {} };
    lat = { x: [], ops: [], p50: {}, p95: {}, p99: {} };
    Object.keys(charts).forEach(function (id) { charts[id].destroy(); delete charts[id]; });
  }

  function apply(ev, snapshot) {
    if (snapshot) reset();
    addMemory(ev.memory);
    var gpuRebuild = addGpus(ev.gpus);
    var latRebuild = addOperations(ev.now, ev.operations);
    drawMemory();
    drawGpus(gpuRebuild || snapshot);
    drawLatency(latRebuild || snapshot);
    drawTable(ev.operations);
    drawDevices(ev.gpuDevices);
    addEvents(ev.gpuEvents, snapshot);
    state.events++;
    updatedEl.textContent = 'updated ' + new Date(ev.now).toLocaleTimeString();
  }

  function setStatus(text) { statusEl.textContent = text; statusEl.className = 'status ' + text; }

  var source = null;
  function connect() {
    source = new EventSource(streamUrl);
    source.addEventListener('open', function () { state.connects++; setStatus('live'); });
    source.addEventListener('snapshot', function (e) { apply(JSON.parse(e.data), true); });
    source.addEventListener('samples', function (e) { apply(JSON.parse(e.data), false); });
    source.addEventListener('error', function () {
      setStatus('reconnecting');
      // EventSource retries by itself unless the connection was refused for good
      // (non-200 answer): then start a new one.
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(connect, 2000);
      }
    });
  }

  window.addEventListener('resize', function () {
    Object.keys(charts).forEach(function (id) { charts[id].setSize({ width: width(document.getElementById(id)), height: 200 }); });
  });

  // For tests and the curious: how many points each chart holds.
  window.perfprobeDashboard = {
    state: state,
    points: function () {
      var out = {};
      Object.keys(charts).forEach(function (id) { out[id] = charts[id].data[0].length; });
      return out;
    },
  };

  drawMemory();
  drawGpus(true);
  connect();
})();
