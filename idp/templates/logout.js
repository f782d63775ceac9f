// The signed-out page of a front-channel logout: the services' logout pages load in the
// hidden frames; once they have (or after three seconds), the browser goes on to where
// the service asked, as the Continue link would take it.
(function () {
  'use strict';
  var next = document.getElementById('logout-next');
  if (!next) return;
  var frames = Array.prototype.slice.call(document.querySelectorAll('iframe.frontchannel'));
  var waiting = frames.length;
  var gone = false;
  function go() {
    if (gone) return;
    gone = true;
    window.location.replace(next.href);
  }
  frames.forEach(function (f) {
    f.addEventListener('load', function () { if (--waiting <= 0) go(); });
  });
  setTimeout(go, 3000);
})();
