// The voice recording of the sign-in and account pages: asks the server for digits to
// read, records the microphone for a few seconds while the citizen reads them, and sends
// the recording as a WAV file (16 kHz, 16-bit, mono). The server decides the match; this
// only records. The container carries the endpoints (data-begin, data-finish) and the
// messages (data-messages, JSON).
(function () {
  'use strict';
  var root = document.getElementById('voice-capture');
  if (!root) return;
  var phrase = document.getElementById('voice-phrase');
  var prompt = document.getElementById('voice-prompt');
  var error = document.getElementById('voice-error');
  var start = document.getElementById('voice-start');
  var csrf = document.getElementById('voice-csrf').value;
  var msgs = JSON.parse(root.dataset.messages);
  var RATE = 16000;
  var SECONDS = 4.5;

  function fail(code) {
    prompt.textContent = '';
    phrase.textContent = '';
    error.textContent = msgs[code] || msgs.unreadable;
    error.hidden = false;
    start.disabled = false;
  }
  async function microphone() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw 'no_microphone';
    try {
      return await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
        video: false,
      });
    } catch (e) {
      throw (e && (e.name === 'NotAllowedError' || e.name === 'SecurityError')) ? 'denied' : 'no_microphone';
    }
  }
  // Records `seconds` of the stream; the samples at the context's own rate.
  function record(stream, seconds) {
    return new Promise(function (resolve) {
      var ctx = new (window.AudioContext || window.webkitAudioContext)();
      var source = ctx.createMediaStreamSource(stream);
      var node = ctx.createScriptProcessor(4096, 1, 1);
      var chunks = [];
      var needed = Math.round(seconds * ctx.sampleRate);
      var have = 0;
      node.onaudioprocess = function (e) {
        if (have >= needed) return;
        var data = e.inputBuffer.getChannelData(0);
        chunks.push(new Float32Array(data));
        have += data.length;
        if (have >= needed) {
          source.disconnect();
          node.disconnect();
          var rate = ctx.sampleRate;
          ctx.close();
          var all = new Float32Array(have);
          var at = 0;
          chunks.forEach(function (c) { all.set(c, at); at += c.length; });
          resolve({ samples: all, rate: rate });
        }
      };
      source.connect(node);
      node.connect(ctx.destination);
    });
  }
  // Averages the samples down to 16 kHz and writes a 16-bit PCM WAV file.
  function wav(samples, rate) {
    var ratio = rate / RATE;
    var n = Math.floor(samples.length / ratio);
    var buf = new ArrayBuffer(44 + n * 2);
    var v = new DataView(buf);
    function text(at, s) { for (var i = 0; i < s.length; i++) v.setUint8(at + i, s.charCodeAt(i)); }
    text(0, 'RIFF'); v.setUint32(4, 36 + n * 2, true); text(8, 'WAVE'); text(12, 'fmt ');
    v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
    v.setUint32(24, RATE, true); v.setUint32(28, RATE * 2, true); v.setUint16(32, 2, true);
    v.setUint16(34, 16, true); text(36, 'data'); v.setUint32(40, n * 2, true);
    for (var i = 0; i < n; i++) {
      var from = Math.floor(i * ratio), to = Math.max(from + 1, Math.floor((i + 1) * ratio));
      var sum = 0;
      for (var j = from; j < to; j++) sum += samples[j];
      var s = Math.max(-1, Math.min(1, sum / (to - from)));
      v.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    var bytes = new Uint8Array(buf);
    var bin = '';
    for (var k = 0; k < bytes.length; k += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(k, k + 0x8000));
    return btoa(bin);
  }
  async function answer(res) {
    var json = {};
    try { json = await res.json(); } catch (e) { /* not JSON */ }
    if (res.status === 503) throw 'busy';
    if (res.status === 403 && json.next) { window.location.assign(json.next); throw 'step-up'; }
    if (!res.ok) throw 'unreadable';
    return json;
  }
  start.addEventListener('click', async function () {
    error.hidden = true;
    start.disabled = true;
    try {
      var stream = await microphone();
      var begun = await answer(await fetch(root.dataset.begin, {
        method: 'POST', credentials: 'same-origin', body: new URLSearchParams({ csrf: csrf }),
      }));
      phrase.textContent = begun.phrase;
      phrase.setAttribute('aria-label', msgs.read + ' ' + begun.phrase);
      prompt.textContent = msgs.recording;
      var rec = await record(stream, SECONDS);
      stream.getTracks().forEach(function (t) { t.stop(); });
      prompt.textContent = msgs.checking;
      var done = await answer(await fetch(root.dataset.finish, {
        method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ csrf: csrf, challenge: begun.challenge, audio: wav(rec.samples, rec.rate) }),
      }));
      if (done.next) { window.location.assign(done.next); return; }
      fail(done.refused);
    } catch (code) {
      if (code !== 'step-up') fail(typeof code === 'string' ? code : 'unreadable');
    }
  });
})();
