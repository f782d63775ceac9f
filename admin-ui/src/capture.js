// The camera and the microphone of the service-centre page, as the citizen pages' capture
// scripts use them (idp/templates/face.js, voice.js): frames filmed on the server's cue
// as JPEG data URLs, and a recording sent as a 16 kHz 16-bit mono WAV file. The server
// decides liveness and quality; this only films and records. Failures are thrown as
// short codes (`no_camera`, `denied`, `no_microphone`) for the page to put into words.

/** How long the citizen reads the digits, as on the citizen pages. */
export const RECORD_SECONDS = 4.5;
const RATE = 16000;
/** The server's cue asks for a blink from `from_ms`; the prompt stays this long. */
const BLINK_PROMPT_MS = 600;
/** Then for a turn of the head to `turn` from `turn_from_ms`; the prompt stays this long. */
const TURN_PROMPT_MS = 1000;

/** What the citizen is asked to do `at` ms into the capture: blink, left, right or hold. */
function asked(cue, at) {
  if (at >= cue.from_ms && at < cue.from_ms + BLINK_PROMPT_MS) return 'blink';
  if (at >= cue.turn_from_ms && at < cue.turn_from_ms + TURN_PROMPT_MS) return cue.turn;
  return 'hold';
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function refused(e, missing) {
  return e && (e.name === 'NotAllowedError' || e.name === 'SecurityError') ? 'denied' : missing;
}

/** The camera facing the citizen, shown in `video`; resolves to the stream. */
export async function openCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) throw 'no_camera';
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { width: 640, height: 480, facingMode: 'user' },
    });
  } catch (e) {
    throw refused(e, 'no_camera');
  }
  video.srcObject = stream;
  await video.play();
  return stream;
}

export function stop(stream) {
  stream?.getTracks().forEach((track) => track.stop());
}

/**
 * Films `cue.frames` frames of `video`, one every `cue.interval_ms`; `onPrompt(action)`
 * is told what the citizen must do as it changes: `blink` (from `cue.from_ms`, for 600 ms),
 * turn their head to the `left` or `right` (from `cue.turn_from_ms`, for 1 s), or `hold`.
 */
export async function film(video, cue, onPrompt) {
  const w = Math.min(640, video.videoWidth || 640);
  const h = Math.round((w * (video.videoHeight || 480)) / (video.videoWidth || 640));
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  const frames = [];
  const t0 = performance.now();
  let prompted = null;
  for (let i = 0; i < cue.frames; i++) {
    const wait = t0 + i * cue.interval_ms - performance.now();
    if (wait > 0) await sleep(wait);
    const at = performance.now() - t0;
    const action = asked(cue, at);
    if (action !== prompted) {
      prompted = action;
      onPrompt(action);
    }
    ctx.drawImage(video, 0, 0, w, h);
    frames.push(canvas.toDataURL('image/jpeg', 0.85));
  }
  return frames;
}

/** The microphone, without the processing that would change the voice. */
export async function openMicrophone() {
  if (!navigator.mediaDevices?.getUserMedia) throw 'no_microphone';
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      video: false,
    });
  } catch (e) {
    throw refused(e, 'no_microphone');
  }
}

/**
 * Records `seconds` of the stream and resolves to the recording as a base64 WAV file
 * (16 kHz, 16-bit, mono).
 */
export function record(stream, seconds = RECORD_SECONDS) {
  return new Promise((resolve) => {
    const ctx = new AudioContext();
    const source = ctx.createMediaStreamSource(stream);
    // A ScriptProcessor, as on the citizen pages, so that both record alike.
    const node = ctx.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    const needed = Math.round(seconds * ctx.sampleRate);
    let have = 0;
    node.onaudioprocess = (e) => {
      if (have >= needed) return;
      const data = e.inputBuffer.getChannelData(0);
      chunks.push(new Float32Array(data));
      have += data.length;
      if (have >= needed) {
        source.disconnect();
        node.disconnect();
        const rate = ctx.sampleRate;
        ctx.close();
        const all = new Float32Array(have);
        let at = 0;
        for (const c of chunks) {
          all.set(c, at);
          at += c.length;
        }
        resolve(wav(all, rate));
      }
    };
    source.connect(node);
    node.connect(ctx.destination);
  });
}

/** Averages the samples down to 16 kHz and writes a 16-bit PCM WAV file, as base64. */
function wav(samples, rate) {
  const ratio = rate / RATE;
  const n = Math.floor(samples.length / ratio);
  const buf = new ArrayBuffer(44 + n * 2);
  const v = new DataView(buf);
  const text = (at, s) => {
    for (let i = 0; i < s.length; i++) v.setUint8(at + i, s.charCodeAt(i));
  };
  text(0, 'RIFF');
  v.setUint32(4, 36 + n * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, RATE, true);
  v.setUint32(28, RATE * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  text(36, 'data');
  v.setUint32(40, n * 2, true);
  for (let i = 0; i < n; i++) {
    const from = Math.floor(i * ratio);
    const to = Math.max(from + 1, Math.floor((i + 1) * ratio));
    let sum = 0;
    for (let j = from; j < to; j++) sum += samples[j];
    const s = Math.max(-1, Math.min(1, sum / (to - from)));
    v.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  const bytes = new Uint8Array(buf);
  let bin = '';
  for (let k = 0; k < bytes.length; k += 0x8000) bin += String.fromCharCode(...bytes.subarray(k, k + 0x8000));
  return btoa(bin);
}
