// suggest.js - suggestions while typing in the catalogue search (progressive
// enhancement: the search works without it).  Asks the JSON API for the
// best titles of what has been typed so far and offers them in a <datalist>,
// which the browser presents accessibly.  No inline script: the CSP allows
// only scripts from 'self'.
(function () {
  'use strict';
  var input = document.getElementById('q');
  if (!input || !window.fetch) return;
  var list = document.createElement('datalist');
  list.id = 'q-suggestions';
  input.parentNode.appendChild(list);
  input.setAttribute('list', list.id);
  var timer = null;
  var last = '';
  var lang = document.documentElement.lang === 'en' ? 'en' : 'de';

  function show(items) {
    while (list.firstChild) list.removeChild(list.firstChild);
    items.forEach(function (item) {
      var option = document.createElement('option');
      option.value = lang === 'en' ? item.title_en : item.title;
      list.appendChild(option);
    });
  }

  function ask() {
    var q = input.value;
    if (q === last) return;
    last = q;
    if (q.trim().length < 2) { show([]); return; }
    var url = '/api/v1/services?typing=1&per_page=6&q=' + encodeURIComponent(q.slice(0, 200));
    fetch(url, { headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (body) { if (input.value === q) show(body.items || []); })
      .catch(function () { /* suggestions are optional */ });
  }

  input.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 150);
  });
}());
