// Per-node profile of ONNX Runtime (CPU EP) in execution order, for
// bench/compare_ort.sh PROFILE=1: one tab-separated line per node of the
// first profiled run's order, with the median over ITERS runs:
//   node  op  median_us  output_shape (as NCHW: a blocked [N,C/b,H,W,b] is [N,C,H,W])
// usage: ORT_NODE=... node bench/ort_nodes.js MODEL.onnx [threads=1] [iters=20] [batch=1]
// The input is the same pseudo-random tensor as ../shared/peer/ort_bench.js uses.
const ort = require(process.env.ORT_NODE || 'onnxruntime-node');
const fs = require('fs'); const os = require('os'); const path = require('path');
(async () => {
  const [model, threads = '1', iters = '20', batch = '1'] = process.argv.slice(2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortnodes-'));
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: +threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    executionMode: 'sequential', enableProfiling: true, profileFilePrefix: path.join(dir, 'p'),
  });
  const name = sess.inputNames[0];
  const meta = sess.inputMetadata ? sess.inputMetadata.find(m => m.name === name) : null;
  const dims = meta && meta.shape ? meta.shape.map(d => (typeof d === 'number' ? d : +batch)) : [+batch, 3, 224, 224];
  dims[0] = +batch;
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; data[i] = (s / 4294967296) * 2 - 1; }
  const feeds = { [name]: new ort.Tensor('float32', data, dims) };
  for (let i = 0; i < 3 + +iters; i++) await sess.run(feeds);
  sess.endProfiling();
  const file = fs.readdirSync(dir).map(f => path.join(dir, f)).find(f => f.endsWith('.json'));
  const ev = JSON.parse(fs.readFileSync(file, 'utf8'));
  const per = new Map(); // insertion order: the order the first run ran them
  for (const e of ev) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const k = e.name.slice(0, -'_kernel_time'.length);
    if (!per.has(k)) {
      let shape = [];
      const outs = (e.args && e.args.output_type_shape) || [];
      if (outs.length > 0) shape = Object.values(outs[0])[0] || [];
      if (shape.length === 5) shape = [shape[0], shape[1] * shape[4], shape[2], shape[3]];
      per.set(k, { op: (e.args && e.args.op_name) || '?', shape, t: [] });
    }
    per.get(k).t.push(e.dur);
  }
  for (const [k, v] of per) {
    const t = v.t.slice(-+iters).sort((a, b) => a - b);
    console.log(`${k}\t${v.op}\t${t[t.length >> 1]}\t${JSON.stringify(v.shape)}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
})().catch(e => { console.error(e); process.exit(1); });
