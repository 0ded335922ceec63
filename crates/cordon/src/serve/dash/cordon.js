// cordon dashboard: times in the viewer's time zone (UTC stays in the tooltip), and the
// "select all" box of the findings table. Nothing is fetched; the page works without it.
(function () {
  'use strict';
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  document.querySelectorAll('time[datetime]').forEach(function (t) {
    var d = new Date(t.getAttribute('datetime'));
    if (isNaN(d.getTime())) { return; }
    if (!t.title) { t.title = t.textContent; }
    t.textContent = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) +
      ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes());
    t.setAttribute('data-local', '1');
  });
  var tz = document.getElementById('tz');
  if (tz) {
    try { tz.textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local'; } catch (e) { /* keep UTC */ }
  }
  var all = document.getElementById('select-all');
  if (all) {
    all.addEventListener('change', function () {
      document.querySelectorAll('input[name=id]').forEach(function (c) { c.checked = all.checked; });
    });
  }
})();
