// m2t viewer: plays one captioned clip from the JSON embedded in the page (models/viewer.py).
// Plain Canvas 2D; the camera, colours and active-word timeline come from m2t.models.scene.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("m2t-data").textContent);
  const C = D.caption, M = D.motion, TL = D.timeline, S = D.style, CAM = D.camera;
  const N = M.frames, FPS = M.fps, DUR = C.duration_s, J = M.parents.length;
  const MOTION = C.tokens.filter(t => t.is_motion_word);
  const TIMELINE = C.windowing !== null && C.windowing !== undefined;   // a timeline take's actions: no gate β̂
  const $ = id => document.getElementById(id);
  const clamp = (x, a, b) => Math.min(Math.max(x, a), b);
  const rgb = a => "rgb(" + a.map(v => Math.round(v)).join(",") + ")";
  const lerp = (a, b, s) => a.map((v, i) => v + (b[i] - v) * s);
  const pretty = s => s.replace(/_/g, " ");

  function heat(a) {
    const H = S.heat;
    a = clamp(a, 0, 1);
    for (let i = 1; i < H.length; i++) {
      if (a <= H[i][0]) return lerp(H[i - 1].slice(1), H[i].slice(1), (a - H[i - 1][0]) / (H[i][0] - H[i - 1][0]));
    }
    return H[H.length - 1].slice(1);
  }
  const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
    [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37]];
  function viridis(x) {
    x = clamp(x, 0, 1) * (VIRIDIS.length - 1);
    const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
    return lerp(VIRIDIS[i], VIRIDIS[i + 1], x - i);
  }

  const state = { t: 0, playing: false, speed: 1, camera: "follow", az: 0, el: CAM.elevation, zoom: 1,
                  attention: true, last: null };
  const frameOf = t => clamp(Math.round(t * FPS), 0, N - 1);

  function pose(t) {                       // positions at time t, linear between canonical frames
    const f = clamp(t * FPS, 0, N - 1), i0 = Math.floor(f), i1 = Math.min(i0 + 1, N - 1), w = f - i0;
    const a = M.positions[i0], b = M.positions[i1], out = [];
    for (let j = 0; j < J; j++) out.push([0, 1, 2].map(c => a[3 * j + c] * (1 - w) + b[3 * j + c] * w));
    return out;
  }

  function projector(k, width, height) {
    const tg = M.camera_targets[k];
    const az = (CAM.azimuth[state.camera] + state.az) * Math.PI / 180 + (state.camera === "follow" ? M.headings[k] : 0);
    const el = state.el * Math.PI / 180, dist = CAM.distance * state.zoom;
    const eye = [tg[0] + dist * Math.sin(az) * Math.cos(el), tg[1] + dist * Math.sin(el), tg[2] + dist * Math.cos(az) * Math.cos(el)];
    const norm = v => { const n = Math.hypot(v[0], v[1], v[2]); return v.map(x => x / n); };
    const f = norm([tg[0] - eye[0], tg[1] - eye[1], tg[2] - eye[2]]);
    const r = norm([-f[2], 0, f[0]]);                                       // f × up
    const u = [r[1] * f[2] - r[2] * f[1], r[2] * f[0] - r[0] * f[2], r[0] * f[1] - r[1] * f[0]];
    const focal = (height / 2) / Math.tan(CAM.fov * Math.PI / 360);
    const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    const rel = p => [p[0] - eye[0], p[1] - eye[1], p[2] - eye[2]];
    const depth = p => dot(rel(p), f);
    const proj = p => { const d = rel(p), z = Math.max(dot(d, f), 0.01);
      return [width / 2 + focal * dot(d, r) / z, height / 2 - focal * dot(d, u) / z]; };
    return { proj, depth, target: tg };
  }

  // ------------------------------------------------------------------ 3D view
  // canvases: drawn in CSS pixels (c.lw × c.lh), stored at the screen's pixel density
  const DPR = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
  function fit(c, w, h) { c.lw = w; c.lh = h; c.width = Math.round(w * DPR); c.height = Math.round(h * DPR); c.style.width = w + "px"; }
  function ctx2d(c) { const x = c.getContext("2d"); x.setTransform(DPR, 0, 0, DPR, 0, 0); return x; }
  const view = $("view");
  fit(view, view.width, view.height);
  function segment(ctx, P, p, q) {
    const near = S.near, zp = P.depth(p), zq = P.depth(q);
    if (zp < near && zq < near) return;
    if (zp < near) p = lerp(p, q, (near - zp) / (zq - zp));
    else if (zq < near) q = lerp(q, p, (near - zq) / (zp - zq));
    const a = P.proj(p), b = P.proj(q);
    ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]);
  }
  function drawView() {
    const W = view.lw, H = view.lh, ctx = ctx2d(view), k = frameOf(state.t);
    ctx.fillStyle = rgb(S.bg); ctx.fillRect(0, 0, W, H);
    const P = projector(k, W, H), tg = P.target;
    ctx.strokeStyle = rgb(S.grid); ctx.lineWidth = 1; ctx.beginPath();
    const step = S.grid_step, half = S.grid_half, cx = Math.round(tg[0] / step) * step, cz = Math.round(tg[2] / step) * step;
    for (let a = -half; a <= half + 1e-6; a += step) {
      segment(ctx, P, [cx + a, 0, cz - half], [cx + a, 0, cz + half]);
      segment(ctx, P, [cx - half, 0, cz + a], [cx + half, 0, cz + a]);
    }
    ctx.stroke();
    ctx.strokeStyle = rgb(S.trail); ctx.lineWidth = 2; ctx.beginPath();
    for (let i = 0; i <= k; i++) {
      const q = P.proj([M.positions[i][0], 0, M.positions[i][2]]);
      if (i === 0) ctx.moveTo(q[0], q[1]); else ctx.lineTo(q[0], q[1]);
    }
    ctx.stroke();
    const X = pose(state.t), pts = X.map(P.proj), depth = X.map(P.depth);
    const act = TL.active[k], s = (state.attention && act >= 0) ? TL.strength[k] : 0;
    const col = [], att = [];
    for (let j = 0; j < J; j++) {
      const base = S.sides[String(M.joint_sides[j])], a = s > 0 ? TL.alpha[k][M.joint_parts[j]] : 0;
      const c = lerp(base, heat(a), s);
      col.push(rgb(M.observed[j] ? c : lerp(c, S.bg, S.unobserved_fade))); att.push(s * a);
    }
    const bw = Math.max(2, H * S.bone_width), JR = S.joint_radius;
    ctx.lineCap = "round"; ctx.strokeStyle = rgb(S.shadow); ctx.lineWidth = bw; ctx.beginPath();
    for (let j = 0; j < J; j++) {
      const p = M.parents[j]; if (p < 0) continue;
      const a = P.proj([X[j][0], 0, X[j][2]]), b = P.proj([X[p][0], 0, X[p][2]]);
      ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]);
    }
    ctx.stroke();
    const order = [...Array(J).keys()].sort((a, b) => depth[b] - depth[a]);
    for (const j of order) {
      const p = M.parents[j]; if (p < 0) continue;
      ctx.strokeStyle = col[j]; ctx.beginPath(); ctx.moveTo(pts[j][0], pts[j][1]); ctx.lineTo(pts[p][0], pts[p][1]); ctx.stroke();
    }
    for (const j of order) {
      const r = bw * (JR[0] + JR[1] * att[j]) * (j === M.head ? JR[2] : 1);
      ctx.fillStyle = col[j]; ctx.beginPath(); ctx.arc(pts[j][0], pts[j][1], r, 0, 2 * Math.PI); ctx.fill();
    }
  }

  // ------------------------------------------------------------------ caption, cue, table
  const capSpans = C.tokens.map(t => {
    const e = document.createElement("span");
    e.textContent = t.word; e.className = t.is_motion_word ? "motion" : "";
    e.addEventListener("click", () => { if (t.is_motion_word) seek(t.centre_s); });
    $("caption").appendChild(e); $("caption").appendChild(document.createTextNode(" "));
    return e;
  });
  const rows = C.tokens.map(t => {
    const tr = document.createElement("tr");
    const parts = t.parts ? t.parts.slice(0, 3).map(p => pretty(p.name) + " " + (100 * p.score).toFixed(0) + "%").join(", ") : "";
    const f = (x, n) => x === null ? "" : x.toFixed(n);
    [t.index, t.word, t.is_motion_word ? "yes" : "", f(t.beta, 2), f(t.confidence, 2), f(t.onset_s, 2), f(t.offset_s, 2), parts]
      .forEach(v => { const td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td); });
    tr.addEventListener("click", () => { if (t.is_motion_word) seek(t.onset_s); });
    document.querySelector("#tokens tbody").appendChild(tr);
    return tr;
  });
  function cueText(t) {                 // the SubRip word cues of m2t caption -f srt that contain time t
    return MOTION.filter(w => w.onset_s <= t + 1e-9 && t <= w.offset_s + 1e-9).map(w =>
      w.word + " (" + w.parts.slice(0, 2).map(p => pretty(p.name) + " " + (100 * p.score).toFixed(0) + "%").join(", ") + ")");
  }
  function drawText() {
    const k = frameOf(state.t), act = TL.active[k], s = TL.strength[k];
    capSpans.forEach((e, i) => {
      const on = i === act;
      e.style.background = on ? rgb(lerp(S.bg, S.hilite, s)) : "";
      e.classList.toggle("active", on);
      rows[i].classList.toggle("active", on);
    });
    const box = $("caption"), a = capSpans[act];       // a long (timeline) caption scrolls to its active word
    if (a && box.scrollHeight > box.clientHeight) box.scrollTop = a.offsetTop - box.offsetTop - box.clientHeight / 3;
    $("cue").textContent = cueText(state.t).join(" · ");
    $("time").textContent = state.t.toFixed(2) + " / " + DUR.toFixed(2) + " s";
    $("scrub").value = String(state.t);
  }

  // ------------------------------------------------------------------ windows and heatmap
  const LABEL = 120, PAD = 10;
  const tx = (c, t) => LABEL + (c.lw - LABEL - PAD) * clamp(t / Math.max(DUR, 1e-6), 0, 1);
  const FT = C.frame_times_s, DT = C.downsample / C.fps;
  function cursor(c, ctx) {
    ctx.strokeStyle = "rgb(215,25,28)"; ctx.lineWidth = 2; ctx.beginPath();
    ctx.moveTo(tx(c, state.t), 0); ctx.lineTo(tx(c, state.t), c.lh); ctx.stroke();
  }
  function axis(c, ctx, y) {
    ctx.fillStyle = "#82868e"; ctx.font = "11px sans-serif"; ctx.strokeStyle = "#82868e"; ctx.lineWidth = 1;
    const every = Math.max(1, Math.ceil(DUR / 10));
    for (let s = 0; s <= DUR + 1e-9; s += every) {
      ctx.beginPath(); ctx.moveTo(tx(c, s), y); ctx.lineTo(tx(c, s), y + 5); ctx.stroke();
      ctx.fillText(s + " s", Math.min(tx(c, s) + 2, c.lw - 30), y + 14);
    }
  }
  const winCanvas = $("windows"), LANE = 20;
  const LANES = TIMELINE ? MOTION : C.tokens;   // a timeline take: one lane per action
  fit(winCanvas, winCanvas.width, LANE * Math.max(1, LANES.length) + 22);
  function drawWindows() {
    const c = winCanvas, ctx = ctx2d(c), act = TL.active[frameOf(state.t)];
    ctx.fillStyle = rgb(S.bg); ctx.fillRect(0, 0, c.lw, c.lh);
    LANES.forEach((t, n) => {
      const y = n * LANE;
      ctx.fillStyle = "#ececE6"; ctx.fillRect(LABEL, y + 2, c.lw - LABEL - PAD, LANE - 4);
      if (t.is_motion_word) {
        ctx.fillStyle = t.index === act ? rgb(S.hilite) : "rgb(196,200,210)";
        ctx.fillRect(tx(c, t.onset_s), y + 2, tx(c, t.offset_s) - tx(c, t.onset_s), LANE - 4);
      }
      ctx.strokeStyle = t.is_motion_word ? "rgb(60,64,74)" : "rgb(170,172,178)"; ctx.lineWidth = 1.5; ctx.beginPath();
      t.window.forEach((g, i) => { const x = tx(c, FT[i]), yy = y + LANE - 2 - g * (LANE - 4);
        if (i === 0) ctx.moveTo(x, yy); else ctx.lineTo(x, yy); });
      ctx.stroke();
      ctx.fillStyle = t.is_motion_word ? "#282a30" : "#9a9ea6";
      ctx.font = (t.is_motion_word ? "bold " : "") + "12px sans-serif";
      ctx.fillText(t.word + (t.is_motion_word || TIMELINE ? "" : "  β̂ " + t.beta.toFixed(2)), 4, y + LANE - 6);
    });
    axis(c, ctx, LANE * Math.max(1, LANES.length) + 2);
    cursor(c, ctx);
  }
  const heatCanvas = $("heatmap"), ROW = 10, HEAD = 18, NP = S.parts.length;
  fit(heatCanvas, heatCanvas.width, Math.max(1, MOTION.length) * (HEAD + ROW * NP + 6) + 22);
  function drawHeatmap() {
    const c = heatCanvas, ctx = ctx2d(c), act = TL.active[frameOf(state.t)];
    ctx.fillStyle = rgb(S.bg); ctx.fillRect(0, 0, c.lw, c.lh);
    if (!MOTION.length) { ctx.fillStyle = "#82868e"; ctx.fillText("no motion words in this caption", LABEL, 20); }
    MOTION.forEach((t, n) => {
      const y0 = n * (HEAD + ROW * NP + 6);
      const map = t.window.map((g, i) => t.alpha[i].map(a => g * a));
      const vmax = Math.max(1e-6, ...map.map(r => Math.max(...r)));
      ctx.fillStyle = t.index === act ? "#b06000" : "#282a30"; ctx.font = "bold 12px sans-serif";
      ctx.fillText(t.word + (TIMELINE ? "" : "   β̂ " + t.beta.toFixed(2)) + "   " + t.onset_s.toFixed(2) + "–" + t.offset_s.toFixed(2) + " s", LABEL, y0 + 13);
      ctx.font = "11px sans-serif";
      S.parts.forEach((p, r) => {
        const y = y0 + HEAD + r * ROW;
        ctx.fillStyle = "#5a5e68"; ctx.fillText(pretty(p), 4, y + ROW - 1);
        map.forEach((row, i) => { ctx.fillStyle = rgb(viridis(row[r] / vmax));
          const xa = tx(c, FT[i] - DT / 2), xb = tx(c, FT[i] + DT / 2);
          ctx.fillRect(xa, y, xb - xa + 0.5, ROW); });
      });
      ctx.setLineDash([4, 3]); ctx.strokeStyle = "white"; ctx.lineWidth = 1;
      [t.onset_s, t.offset_s].forEach(s => { ctx.beginPath(); ctx.moveTo(tx(c, s), y0 + HEAD); ctx.lineTo(tx(c, s), y0 + HEAD + ROW * NP); ctx.stroke(); });
      ctx.setLineDash([]);
    });
    axis(c, ctx, Math.max(1, MOTION.length) * (HEAD + ROW * NP + 6) + 2);
    cursor(c, ctx);
  }

  // ------------------------------------------------------------------ control
  function draw() { drawView(); drawText(); drawWindows(); drawHeatmap(); }
  function seek(t) { state.t = clamp(t, 0, DUR); draw(); }
  function setPlaying(p) { state.playing = p; state.last = null; $("play").textContent = p ? "❚❚" : "▶";
    $("play").setAttribute("aria-label", p ? "pause" : "play"); }
  function tick(ts) {
    if (state.playing) {
      if (state.last !== null) { state.t += (ts - state.last) / 1000 * state.speed; if (state.t > DUR) state.t = 0; }
      state.last = ts; draw();
    }
    requestAnimationFrame(tick);
  }
  $("scrub").max = String(DUR);
  $("scrub").addEventListener("input", e => seek(parseFloat(e.target.value)));
  $("play").addEventListener("click", () => setPlaying(!state.playing));
  $("speed").addEventListener("change", e => { state.speed = parseFloat(e.target.value); });
  $("camera").addEventListener("change", e => { state.camera = e.target.value; state.az = 0; draw(); });
  $("attention").addEventListener("change", e => { state.attention = e.target.checked; draw(); });
  [winCanvas, heatCanvas].forEach(c => c.addEventListener("click", e => {
    const r = c.getBoundingClientRect(), x = (e.clientX - r.left) * c.lw / r.width;
    if (x >= LABEL) seek((x - LABEL) / (c.lw - LABEL - PAD) * DUR);
  }));
  let drag = null;
  view.addEventListener("pointerdown", e => { drag = [e.clientX, e.clientY]; view.setPointerCapture(e.pointerId); view.classList.add("drag"); });
  view.addEventListener("pointermove", e => {
    if (!drag) return;
    state.az -= (e.clientX - drag[0]) * 0.4; state.el = clamp(state.el + (e.clientY - drag[1]) * 0.3, -5, 85);
    drag = [e.clientX, e.clientY]; draw();
  });
  view.addEventListener("pointerup", () => { drag = null; view.classList.remove("drag"); });
  view.addEventListener("wheel", e => { e.preventDefault(); state.zoom = clamp(state.zoom * Math.exp(e.deltaY * 0.001), 0.3, 3); draw(); },
    { passive: false });
  view.addEventListener("dblclick", () => { state.az = 0; state.el = CAM.elevation; state.zoom = 1; draw(); });
  document.addEventListener("keydown", e => {
    if (e.target.tagName === "SELECT" || e.target.tagName === "INPUT" && e.target.type !== "range") return;
    if (e.key === " ") { e.preventDefault(); setPlaying(!state.playing); }
    else if (e.key === "ArrowRight") { e.preventDefault(); seek(state.t + 1 / FPS); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); seek(state.t - 1 / FPS); }
  });

  $("title").textContent = C.source + " · " + DUR.toFixed(2) + " s · " + C.model.skeleton + " · model " +
    ((C.model.dir || "").split(/[\\/]/).filter(Boolean).pop() || "?");
  $("warnings").textContent = C.warnings.map(w => "Warning: " + w).join(" ");
  const json = JSON.stringify(C, null, 1);
  $("json").textContent = json;
  $("download").href = URL.createObjectURL(new Blob([json], { type: "application/json" }));
  $("download").download = (C.source.split(/[\\/]/).pop() || "caption").replace(/(\.gz)?$/, "") + ".json";
  const m = /(?:^|[#&])t=([0-9.]+)/.exec(location.hash);
  seek(m ? parseFloat(m[1]) : 0);
  window.m2tViewer = { seek, state, cueText, duration: DUR };
  requestAnimationFrame(tick);
})();
