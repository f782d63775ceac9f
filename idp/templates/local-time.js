// Rewrites every <time datetime> of the page in the reader's time zone and the page's
// language; without script the server's form (UTC) stays.
(function () {
  var lang = document.documentElement.lang || undefined;
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
