// Rewrites every <time datetime> of the page in the reader's time zone and the page's
// language; without script the server's form (UTC) stays.
(function () {
  // The reader's own variant of the page's language (en-GB rather than en), if any.
  var lang = document.documentElement.lang || undefined;
  var own = (navigator.languages || []).find(function (l) { return l.split('-')[0] === lang; });
  if (own) lang = own;
  var format;
  try {
    format = new Intl.DateTimeFormat(lang, { dateStyle: 'long', timeStyle: 'short' });
  } catch (e) {
    return;
  }
  document.querySelectorAll('time[datetime]').forEach(function (el) {
    var d = new Date(el.getAttribute('datetime'));
    if (!isNaN(d.getTime())) el.textContent = format.format(d);
  });
})();
