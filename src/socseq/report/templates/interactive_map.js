// socseq report: the interactive map. Reads the JSON block #im-data (base64 typed arrays of
// the run's cells) and draws the chosen layer on #im-canvas; hover or click a cell to read
// its values; drag to pan, wheel or the buttons to zoom. No network, no library.
(function () {
  "use strict";
  const block = document.getElementById("im-data");
  if (!block) return;
  const D = JSON.parse(block.textContent);
  const W = D.width, H = D.height, N = W * H;

  function bytes(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  const f32 = (b64) => new Float32Array(bytes(b64).buffer);
  const codes = bytes(D.codes);
  const t0 = f32(D.t0);
  const asr = D.asr.map(f32);
  const fin = D.final.map(f32);
  const flag = D.flag.map(bytes);
  const crop = D.cropland ? bytes(D.cropland) : null;
  const dsm = D.dsm ? { q05: f32(D.dsm.q05), mean: f32(D.dsm.mean), q95: f32(D.dsm.q95) } : null;
  // Position of each cell in the simulated and candidate (agricultural) arrays.
  const simIndex = new Int32Array(N).fill(-1);
  const candIndex = new Int32Array(N).fill(-1);
  for (let i = 0, s = 0, c = 0; i < N; i++) {
    if (codes[i] === 0) simIndex[i] = s++;
    if (codes[i] !== 255 && codes[i] !== 254) candIndex[i] = c++;
  }

  // Numbers as the rest of the report writes them (socseq.report.numbers.fmt_number).
  function fmt(v, kind) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const q = D.quantities[kind];
    const sig = q[0], res = q[1];
    if (Math.abs(v) < res / 2 || v === 0) return "0";
    const e = Math.floor(Math.log10(Math.abs(v)));
    const dec = Math.min(sig - 1 - e, Math.max(0, -Math.floor(Math.log10(res))));
    const f = Math.pow(10, dec);
    const r = Math.round(v * f) / f;
    if (r === 0) return "0";
    const d = Math.max(dec, 0);
    return r.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
  }

  const canvas = document.getElementById("im-canvas");
  const ctx = canvas.getContext("2d");
  const layerSel = document.getElementById("im-layer");
  const scenSel = document.getElementById("im-scenario");
  const legend = document.getElementById("im-legend");
  const off = document.createElement("canvas");
  off.width = W;
  off.height = H;
  const offCtx = off.getContext("2d");

  function hex(h) {
    return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
  }
  const grey = hex(D.landGrey.slice(1));
  const reasonColors = {};
  const palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                   "#a6761d", "#1f78b4", "#b2df8a", "#fb9a99", "#cab2d6"];
  Object.keys(D.reasonLabels).forEach((code, i) => {
    reasonColors[code] = code === "0" ? "#1a9850" : code === "254" ? "#e0e0e0"
      : palette[(i + 1) % palette.length];
  });

  function layerValue(layer, s, k) {
    if (layer === "asr") return asr[s][k];
    if (layer === "final") return fin[s][k];
    if (layer === "t0") return t0[k];
    return NaN;
  }

  // Paint the chosen layer into the one-pixel-per-cell image.
  function paint() {
    const layer = layerSel.value, s = scenSel.selectedIndex;
    const img = offCtx.createImageData(W, H);
    const px = img.data;
    const style = D.styles[layer];
    let lut = null;
    if (style && style.lut) lut = Array.from({ length: 256 }, (_, j) => hex(style.lut.substr(6 * j, 6)));
    const cats = style && style.categories ? style.categories.map((c) => hex(c.color.slice(1))) : null;
    for (let i = 0; i < N; i++) {
      const code = codes[i];
      if (code === 255) continue; // outside the land: transparent (white page)
      let rgb = grey;
      const k = simIndex[i];
      if (layer === "reason") {
        rgb = hex((reasonColors[String(code)] || "#999999").slice(1));
      } else if (k >= 0) {
        if (layer === "p4") {
          let f = flag[s][k];
          if (crop && crop[k] === 0 && f !== 255) f = 2;
          if (f !== 255 && cats) rgb = cats[f];
        } else {
          const v = layerValue(layer, s, k);
          if (!Number.isNaN(v)) {
            let t = (v - style.vmin) / (style.vmax - style.vmin);
            t = Math.min(255, Math.max(0, Math.floor(t * 256)));
            rgb = lut[t];
          }
        }
      }
      px[4 * i] = rgb[0];
      px[4 * i + 1] = rgb[1];
      px[4 * i + 2] = rgb[2];
      px[4 * i + 3] = 255;
    }
    offCtx.putImageData(img, 0, 0);
    drawLegend(layer);
    draw();
  }

  function drawLegend(layer) {
    const style = D.styles[layer];
    let html = "";
    if (layer === "reason") {
      html = Object.keys(D.reasonLabels).filter((c) => c !== "255").map((c) =>
        `<span class="sw" style="background:${reasonColors[c]}"></span>${D.reasonLabels[c]}`
      ).join(" ");
    } else if (style.categories) {
      html = style.categories.map((c) => `<span class="sw" style="background:${c.color}"></span>${c.label}`).join(" ");
    } else {
      const stops = [];
      for (let j = 0; j <= 10; j++) stops.push("#" + style.lut.substr(6 * Math.min(255, Math.round(j * 25.5)), 6));
      html = `<span>${fmt(style.vmin, style.kind)}</span>` +
        `<span class="ramp" style="background:linear-gradient(to right,${stops.join(",")})"></span>` +
        `<span>${fmt(style.vmax, style.kind)}</span> <span>${style.label}</span>`;
    }
    if (layer !== "reason") {
      html += ` <span class="sw" style="background:${D.landGrey}"></span>land not simulated`;
    }
    legend.innerHTML = html;
  }

  // View: canvas pixels per cell horizontally (scale), vertically scale * aspect; offsets.
  const view = { scale: 1, ox: 0, oy: 0 };
  let hover = -1, pinned = -1;

  function fit() {
    const cw = canvas.clientWidth;
    const ch = Math.min(Math.round(cw * H * D.aspect / W), 640);
    canvas.width = cw;
    canvas.height = ch;
    canvas.style.height = ch + "px";
    view.scale = Math.min(cw / W, ch / (H * D.aspect));
    view.ox = (cw - W * view.scale) / 2;
    view.oy = (ch - H * view.scale * D.aspect) / 2;
  }

  function draw() {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.imageSmoothingEnabled = false;
    const sy = view.scale * D.aspect;
    ctx.drawImage(off, view.ox, view.oy, W * view.scale, H * sy);
    const cell = pinned >= 0 ? pinned : hover;
    if (cell >= 0) {
      const r = Math.floor(cell / W), c = cell % W;
      ctx.lineWidth = 2;
      ctx.strokeStyle = pinned >= 0 ? "#d7191c" : "#000000";
      ctx.strokeRect(view.ox + c * view.scale - 1, view.oy + r * sy - 1, view.scale + 2, sy + 2);
    }
    canvas.dataset.view = [view.scale, view.ox, view.oy, D.aspect].join(" ");
  }

  function cellAt(x, y) {
    const c = Math.floor((x - view.ox) / view.scale);
    const r = Math.floor((y - view.oy) / (view.scale * D.aspect));
    return c >= 0 && c < W && r >= 0 && r < H ? r * W + c : -1;
  }

  function text(id, value) {
    document.getElementById(id).textContent = value;
  }

  function flagText(k, s) {
    const f = flag[s][k];
    if (f === 255) return "not simulated";
    const word = f === 1 ? "reached" : "not reached";
    return crop && crop[k] === 0 ? word + " (not cropland: outside the share)" : word;
  }

  // Show the values of one cell in the panel.
  function show(cell) {
    const panel = document.getElementById("im-info");
    if (cell < 0) {
      panel.classList.add("empty");
      return;
    }
    panel.classList.remove("empty");
    const r = Math.floor(cell / W), c = cell % W;
    const x = D.extent[0] + (c + 0.5) * (D.extent[1] - D.extent[0]) / W;
    const y = D.extent[3] - (r + 0.5) * (D.extent[3] - D.extent[2]) / H;
    const digits = D.coordUnits === "km" ? 1 : 4;
    text("im-cell", `row ${r}, column ${c}; ${(x * D.coordScale).toFixed(digits)}, ` +
      `${(y * D.coordScale).toFixed(digits)} ${D.coordUnits} (${D.crs})`);
    const code = String(codes[cell]);
    text("im-reason", code === "0" ? "simulated" : "not simulated: " + (D.reasonLabels[code] || code));
    const k = simIndex[cell];
    const j = candIndex[cell];
    text("im-t0", k >= 0 ? `${fmt(t0[k], "stock")} t C/ha` : "–");
    text("im-dsm", dsm && j >= 0 && !Number.isNaN(dsm.q05[j])
      ? `${fmt(dsm.q05[j], "stock")} – ${fmt(dsm.q95[j], "stock")} t C/ha (mean ${fmt(dsm.mean[j], "stock")})`
      : "–");
    const s = scenSel.selectedIndex;
    text("im-scenario-name", D.scenarios[s]);
    text("im-asr", k >= 0 ? `${fmt(asr[s][k], "rate")} t C/ha/yr` : "–");
    text("im-final", k >= 0 ? `${fmt(fin[s][k], "stock")} t C/ha` : "–");
    text("im-flag", k >= 0 ? flagText(k, s) : "–");
    const rows = document.querySelectorAll("#im-table tbody tr");
    rows.forEach((row, i) => {
      row.classList.toggle("sel", i === s);
      row.querySelector(".asr").textContent = k >= 0 ? fmt(asr[i][k], "rate") : "–";
      row.querySelector(".final").textContent = k >= 0 ? fmt(fin[i][k], "stock") : "–";
      row.querySelector(".flag").textContent = k >= 0 ? flagText(k, i) : "–";
    });
    panel.dataset.cell = String(cell);
  }

  function zoom(factor, x, y) {
    const fitScale = Math.min(canvas.width / W, canvas.height / (H * D.aspect));
    const scale = Math.min(Math.max(view.scale * factor, fitScale * 0.5), fitScale * 64);
    const k = scale / view.scale;
    view.ox = x - (x - view.ox) * k;
    view.oy = y - (y - view.oy) * k;
    view.scale = scale;
    draw();
  }

  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.offsetX, y: e.offsetY, ox: view.ox, oy: view.oy, moved: false };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (drag) {
      const dx = e.offsetX - drag.x, dy = e.offsetY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) {
        view.ox = drag.ox + dx;
        view.oy = drag.oy + dy;
        draw();
        return;
      }
    }
    hover = cellAt(e.offsetX, e.offsetY);
    if (pinned < 0) show(hover);
    draw();
  });
  canvas.addEventListener("pointerup", (e) => {
    if (drag && !drag.moved) {
      const cell = cellAt(e.offsetX, e.offsetY);
      pinned = cell === pinned ? -1 : cell;
      show(pinned >= 0 ? pinned : cell);
      draw();
    }
    drag = null;
  });
  canvas.addEventListener("pointerleave", () => {
    hover = -1;
    draw();
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    zoom(Math.exp(-e.deltaY * 0.0015), e.offsetX, e.offsetY);
  }, { passive: false });
  document.getElementById("im-zoom-in").addEventListener("click", () =>
    zoom(2, canvas.width / 2, canvas.height / 2));
  document.getElementById("im-zoom-out").addEventListener("click", () =>
    zoom(0.5, canvas.width / 2, canvas.height / 2));
  document.getElementById("im-reset").addEventListener("click", () => {
    fit();
    draw();
  });
  layerSel.addEventListener("change", paint);
  scenSel.addEventListener("change", () => {
    paint();
    const cell = pinned >= 0 ? pinned : hover;
    if (cell >= 0) show(cell);
  });
  window.addEventListener("resize", () => {
    fit();
    draw();
  });
  fit();
  paint();
  canvas.dataset.ready = "true";
})();
