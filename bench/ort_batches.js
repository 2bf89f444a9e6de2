// Runs ONNX Runtime (CPU) on one model at several batch sizes in one
// session, as `bnrun bench --batch 1,2,4,8` does, and prints its peak
// resident memory, for comparing memory with bnrun's.
// usage: ORT_NODE=... node bench/ort_batches.js MODEL.onnx THREADS RUNS BATCH[,BATCH...]
const ort = require(process.env.ORT_NODE || 'onnxruntime-node');
const fs = require('fs');
(async () => {
  const [model, threads = '1', runs = '3', batches = '1,2,4,8'] = process.argv.slice(2);
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: +threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential',
  });
  const name = sess.inputNames[0];
  for (const b of batches.split(',').map(Number)) {
    const dims = [b, 3, 224, 224];
    const data = new Float32Array(dims.reduce((x, y) => x * y, 1));
    for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) % 2000) / 1000 - 1;
    const feeds = { [name]: new ort.Tensor('float32', data, dims) };
    for (let i = 0; i < +runs; i++) await sess.run(feeds);
  }
  const hwm = fs.readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+) kB/);
  console.log(`ort ${model} threads=${threads} batches=${batches} peak_rss_mib=${(+hwm[1] / 1024).toFixed(1)}`);
})().catch(e => { console.error(e); process.exit(1); });
