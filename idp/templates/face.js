// The face capture of the sign-in and account pages: asks the server for a challenge,
// films `cue.frames` frames one every `cue.interval_ms`, asks the citizen to blink and then
// to turn their head to a side, at the moments and to the side the server chose, and sends
// the frames. The server decides liveness and the
// match; this only films. The container carries the endpoints (data-begin, data-finish)
// and the messages (data-messages, JSON).
(function () {
  'use strict';
  var root = document.getElementById('face-capture');
  if (!root) return;
  var video = document.getElementById('face-video');
  var prompt = document.getElementById('face-prompt');
  var error = document.getElementById('face-error');
  var start = document.getElementById('face-start');
  var csrf = document.getElementById('face-csrf').value;
  var msgs = JSON.parse(root.dataset.messages);
  var stream = null;

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function say(text) { prompt.textContent = text; }
  // What the citizen is asked to do `at` ms into the capture: blink, turn, or hold still.
  function asked(cue, at) {
    if (at >= cue.from_ms && at < cue.from_ms + 600) return 'blink';
    if (at >= cue.turn_from_ms && at < cue.turn_from_ms + 1000) return cue.turn;
    return 'hold';
  }
  function show(action) {
    root.classList.toggle('blink', action === 'blink');
    root.classList.toggle('turn-left', action === 'left');
    root.classList.toggle('turn-right', action === 'right');
    say(msgs[action]);
  }
  function fail(code) {
    show('hold');
    say('');
    error.textContent = msgs[code] || msgs.unreadable;
    error.hidden = false;
    start.disabled = false;
  }
  async function camera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw 'no_camera';
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: { width: 640, height: 480, facingMode: 'user' } });
    } catch (e) {
      throw (e && (e.name === 'NotAllowedError' || e.name === 'SecurityError')) ? 'denied' : 'no_camera';
    }
    video.srcObject = stream;
    await video.play();
  }
  async function answer(res) {
    var json = {};
    try { json = await res.json(); } catch (e) { /* not JSON */ }
    if (res.status === 503) throw 'busy';
    // A change of sign-in methods may first need a fresh, stronger sign-in.
    if (res.status === 403 && json.next) { window.location.assign(json.next); throw 'step-up'; }
    if (!res.ok) throw 'unreadable';
    return json;
  }
  start.addEventListener('click', async function () {
    error.hidden = true;
    start.disabled = true;
    try {
      if (!stream) await camera();
      var begun = await answer(await fetch(root.dataset.begin, {
        method: 'POST', credentials: 'same-origin', body: new URLSearchParams({ csrf: csrf }),
      }));
      var cue = begun.cue;
      var w = Math.min(640, video.videoWidth || 640);
      var h = Math.round(w * (video.videoHeight || 480) / (video.videoWidth || 640));
      var canvas = document.createElement('canvas');
      canvas.width = w;
      canvas.height = h;
      var ctx = canvas.getContext('2d');
      var frames = [];
      say(msgs.hold);
      var t0 = performance.now();
      for (var i = 0; i < cue.frames; i++) {
        var wait = t0 + i * cue.interval_ms - performance.now();
        if (wait > 0) await sleep(wait);
        show(asked(cue, performance.now() - t0));
        ctx.drawImage(video, 0, 0, w, h);
        frames.push(canvas.toDataURL('image/jpeg', 0.85));
      }
      show('hold');
      say(msgs.checking);
      var done = await answer(await fetch(root.dataset.finish, {
        method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ csrf: csrf, challenge: begun.challenge, frames: frames }),
      }));
      if (done.next) { window.location.assign(done.next); return; }
      fail(done.refused);
    } catch (e) {
      if (e !== 'step-up') fail(typeof e === 'string' ? e : 'unreadable');
    }
  });
})();
