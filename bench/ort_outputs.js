// Writes ONNX Runtime's outputs beside a model's goldens, so that
// `bnrun verify --peer` can set bnrun's error against ORT's on the same
// inputs: for every DIR/test_data_set_N it reads input_K.pb (TensorProto,
// float32 or int64), runs the model with ONNX Runtime's CPU provider on one
// thread, and writes peer_output_K.pb (TensorProto, raw_data).
// usage: ORT_NODE=... node bench/ort_outputs.js MODEL.onnx [DIR]
//   (DIR defaults to the model's folder)
const ort = require(process.env.ORT_NODE || 'onnxruntime-node');
const fs = require('fs'); const path = require('path');

// readVarint returns [value, next offset]; values past 2^53 lose bits,
// which dims and lengths never reach.
function readVarint(b, i) {
  let v = 0, m = 1;
  for (;;) {
    const c = b[i++];
    v += (c & 0x7f) * m;
    if (c < 0x80) return [v, i];
    m *= 128;
  }
}

// parseTensor decodes the TensorProto fields a golden uses: dims (1),
// data_type (2), float_data (4), int64_data (7), name (8), raw_data (9).
function parseTensor(b) {
  const t = { dims: [], type: 1, name: '', raw: null, floats: [], ints: [] };
  let i = 0;
  while (i < b.length) {
    let key; [key, i] = readVarint(b, i);
    const field = Math.floor(key / 8), wire = key & 7;
    if (wire === 0) {
      let v; [v, i] = readVarint(b, i);
      if (field === 1) t.dims.push(v); else if (field === 2) t.type = v; else if (field === 7) t.ints.push(v);
    } else if (wire === 2) {
      let n; [n, i] = readVarint(b, i);
      const s = b.subarray(i, i + n); i += n;
      if (field === 1 || field === 7) { // packed varints
        let j = 0; while (j < s.length) { let v; [v, j] = readVarint(s, j); (field === 1 ? t.dims : t.ints).push(v); }
      } else if (field === 4) {
        const f = new Float32Array(s.buffer.slice(s.byteOffset, s.byteOffset + s.length)); t.floats.push(...f);
      } else if (field === 8) t.name = Buffer.from(s).toString('utf8');
      else if (field === 9) t.raw = Buffer.from(s);
    } else if (wire === 5) { if (field === 4) t.floats.push(b.readFloatLE(i)); i += 4; }
    else if (wire === 1) i += 8;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return t;
}

function toOrt(t) {
  if (t.type === 1) {
    const a = t.raw ? new Float32Array(t.raw.buffer.slice(t.raw.byteOffset, t.raw.byteOffset + t.raw.length)) : Float32Array.from(t.floats);
    return new ort.Tensor('float32', a, t.dims);
  }
  if (t.type === 7) {
    const a = t.raw ? new BigInt64Array(t.raw.buffer.slice(t.raw.byteOffset, t.raw.byteOffset + t.raw.length)) : BigInt64Array.from(t.ints.map(BigInt));
    return new ort.Tensor('int64', a, t.dims);
  }
  throw new Error(`input type ${t.type}: only float32 (1) and int64 (7)`);
}

function varint(v) { const o = []; while (v >= 0x80) { o.push((v % 128) | 0x80); v = Math.floor(v / 128); } o.push(v); return Buffer.from(o); }
function field(num, wire, body) { return Buffer.concat([varint(num * 8 + wire), body]); }
function bytesField(num, buf) { return Buffer.concat([varint(num * 8 + 2), varint(buf.length), buf]); }

// writeTensor encodes dims, data_type, name and raw_data.
function writeTensor(file, name, ot) {
  const type = ot.type === 'float32' ? 1 : ot.type === 'int64' ? 7 : 0;
  if (!type) throw new Error(`output ${name}: type ${ot.type}`);
  const parts = ot.dims.map(d => field(1, 0, varint(d)));
  parts.push(field(2, 0, varint(type)), bytesField(8, Buffer.from(name, 'utf8')));
  parts.push(bytesField(9, Buffer.from(ot.data.buffer, ot.data.byteOffset, ot.data.byteLength)));
  fs.writeFileSync(file, Buffer.concat(parts));
}

(async () => {
  const [model, dirArg] = process.argv.slice(2);
  if (!model) { console.error('usage: node bench/ort_outputs.js MODEL.onnx [DIR]'); process.exit(2); }
  const dir = dirArg || path.dirname(model);
  const sess = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const sets = fs.readdirSync(dir).filter(d => /^test_data_set_\d+$/.test(d)).sort((a, b) => +a.split('_').pop() - +b.split('_').pop());
  if (!sets.length) throw new Error(`no test_data_set_* in ${dir}`);
  const num = f => +f.replace(/\D+/g, '');
  for (const set of sets) {
    const sd = path.join(dir, set);
    const ins = fs.readdirSync(sd).filter(f => /^input_\d+\.pb$/.test(f)).sort((a, b) => num(a) - num(b));
    const feeds = {};
    ins.forEach((f, k) => {
      const t = parseTensor(fs.readFileSync(path.join(sd, f)));
      const name = sess.inputNames.includes(t.name) ? t.name : sess.inputNames[k];
      feeds[name] = toOrt(t);
    });
    const out = await sess.run(feeds);
    sess.outputNames.forEach((name, k) => writeTensor(path.join(sd, `peer_output_${k}.pb`), name, out[name]));
    console.log(`${sd}: ${sess.outputNames.length} peer outputs written`);
  }
})().catch(e => { console.error(e); process.exit(1); });
