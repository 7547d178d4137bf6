// Reference AgeGenderNet for the parity test: face-api.js (@vladmandic/face-api) on TensorFlow.js's
// pure-JS CPU backend. Usage: node age-gender.js MODEL_DIR CROPS.raw
// CROPS.raw holds N crops of 112x112x3 uint8 RGB, row-major (HWC). Prints one JSON object:
// {"backend":"cpu","age":[...],"male":[...]} where male is the softmax probability of class 0 (male).
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

async function main() {
  const [modelDir, cropsFile] = process.argv.slice(2);
  if (!modelDir || !cropsFile) { console.error('usage: node age-gender.js MODEL_DIR CROPS.raw'); process.exit(2); }
  await tf.setBackend('cpu');
  await tf.ready();
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'age_gender_model-weights_manifest.json'), 'utf8'));
  const bin = fs.readFileSync(path.join(modelDir, manifest[0].paths[0]));
  const weightMap = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), manifest[0].weights);
  const net = new faceapi.AgeGenderNet();
  net.loadFromWeightMap(weightMap);
  const crops = fs.readFileSync(cropsFile);
  const size = 112 * 112 * 3;
  if (crops.length % size !== 0) { console.error(`crops file is ${crops.length} bytes, not a multiple of ${size}`); process.exit(2); }
  const age = [], male = [];
  for (let i = 0; i < crops.length / size; i++) {
    const t = tf.tensor3d(new Int32Array(crops.subarray(i * size, (i + 1) * size)), [112, 112, 3], 'int32');
    const out = await net.forward(t);
    age.push(out.age.dataSync()[0]);
    male.push(out.gender.dataSync()[0]);
    tf.dispose([t, out.age, out.gender]);
  }
  process.stdout.write(JSON.stringify({ backend: tf.getBackend(), tfjs: tf.version.tfjs, age, male }) + '\n');
}
main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
