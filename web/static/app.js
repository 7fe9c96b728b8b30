// pinrec serve: upload by picker or drag-and-drop, infinite scroll, crop box. Plain JS.
(function () {
  'use strict';

  // Small images (Fashion-MNIST's 28x28) are drawn with crisp pixels when scaled up; a pin
  // whose file is gone shows a plain tile instead of a broken image.
  function crisp(img) {
    var mark = function () { if (img.naturalWidth && img.naturalWidth < 96) img.classList.add('pixelated'); };
    var missing = function () { if (img.parentNode) img.parentNode.classList.add('missing'); };
    if (img.complete) { if (img.naturalWidth) mark(); else if (img.getAttribute('src')) missing(); }
    img.addEventListener('load', mark);
    img.addEventListener('error', missing);
  }
  document.querySelectorAll('img').forEach(crisp);

  // Upload: picking a file submits the form; so does dropping one anywhere on the page.
  var form = document.getElementById('upload-form');
  if (form) {
    var input = form.querySelector('input[type=file]');
    var submit = function () { document.body.classList.add('busy'); form.submit(); };
    input.addEventListener('change', function () { if (input.files.length) submit(); });
    var hasFiles = function (e) { return e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types, 'Files') >= 0; };
    var depth = 0;
    document.addEventListener('dragenter', function (e) { if (hasFiles(e)) { depth++; document.body.classList.add('dropping'); } });
    document.addEventListener('dragleave', function (e) { if (hasFiles(e) && --depth <= 0) { depth = 0; document.body.classList.remove('dropping'); } });
    document.addEventListener('dragover', function (e) { if (hasFiles(e)) e.preventDefault(); });
    document.addEventListener('drop', function (e) {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      document.body.classList.remove('dropping');
      if (!e.dataTransfer.files.length) return;
      input.files = e.dataTransfer.files;
      submit();
    });
  }

  // Infinite scroll on the home grid, through /api/items; the link still works without it.
  var more = document.querySelector('a.more[data-offset]');
  var grid = document.getElementById('grid');
  if (more && grid && 'IntersectionObserver' in window) {
    var loading = false;
    var load = function () {
      if (loading) return;
      loading = true;
      var q = more.dataset.query ? '&' + more.dataset.query : '';
      fetch('/api/items?limit=48&offset=' + more.dataset.offset + q)
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (page) {
          page.items.forEach(function (it) { grid.appendChild(card(it)); });
          var next = page.offset + page.items.length;
          more.dataset.offset = next;
          loading = false;
          if (next >= page.total) { observer.disconnect(); more.remove(); return; }
          // The observer only calls back when the link's visibility changes; on a tall
          // window (or when a call back came while this page was loading) the link is
          // still in view now, so observe it again: that delivers its current state and
          // loads the next page if it is still in view.
          observer.unobserve(more);
          observer.observe(more);
        })
        .catch(function () { observer.disconnect(); });
    };
    var observer = new IntersectionObserver(function (es) { if (es[0].isIntersecting) load(); }, { rootMargin: '600px' });
    observer.observe(more);
  }

  // card builds a pin like the template's, with text set as text (never as HTML).
  function card(it) {
    var a = document.createElement('a');
    a.className = 'pin'; a.href = it.url; a.title = it.id;
    var thumb = document.createElement('span'); thumb.className = 'thumb';
    var img = document.createElement('img');
    img.src = it.image; img.alt = it.id; img.loading = 'lazy'; img.draggable = false;
    crisp(img);
    thumb.appendChild(img);
    var cap = document.createElement('span'); cap.className = 'caption';
    var name = document.createElement('span'); name.className = 'name';
    name.textContent = it.id.split('/').pop();
    cap.appendChild(name);
    var sub = document.createElement('span'); sub.className = 'sub';
    var cat = document.createElement('span'); cat.className = 'cat'; cat.textContent = it.category || '';
    sub.appendChild(cat);
    cap.appendChild(sub);
    a.appendChild(thumb); a.appendChild(cap);
    return a;
  }

  // Crop: drag a box over the pin; the page reloads with ?crop=x,y,w,h in the image's own
  // pixels, so the result can be shared as a link.
  var area = document.getElementById('crop-area');
  var pic = document.getElementById('focus-img');
  if (area && pic) {
    var box = null, start = null;
    var scale = function () { return pic.naturalWidth / pic.clientWidth; };
    var place = function (x, y, w, h) {
      if (!box) { box = document.createElement('div'); box.className = 'crop-box'; area.appendChild(box); }
      box.style.left = x + 'px'; box.style.top = y + 'px'; box.style.width = w + 'px'; box.style.height = h + 'px';
    };
    var pos = function (e) {
      var r = pic.getBoundingClientRect();
      return { x: Math.max(0, Math.min(r.width, e.clientX - r.left)), y: Math.max(0, Math.min(r.height, e.clientY - r.top)) };
    };
    var show = function () {
      var c = (area.dataset.crop || '').split(',').map(Number);
      if (c.length !== 4 || !pic.naturalWidth) return;
      var s = scale();
      place(c[0] / s, c[1] / s, c[2] / s, c[3] / s);
    };
    if (pic.complete) show(); else pic.addEventListener('load', show);
    window.addEventListener('resize', show);
    area.addEventListener('pointerdown', function (e) {
      if (e.button !== 0) return;
      e.preventDefault();
      area.setPointerCapture(e.pointerId);
      start = pos(e);
      place(start.x, start.y, 0, 0);
    });
    area.addEventListener('pointermove', function (e) {
      if (!start) return;
      var p = pos(e);
      place(Math.min(p.x, start.x), Math.min(p.y, start.y), Math.abs(p.x - start.x), Math.abs(p.y - start.y));
    });
    area.addEventListener('pointerup', function (e) {
      if (!start) return;
      var p = pos(e), s = scale();
      var x = Math.min(p.x, start.x), y = Math.min(p.y, start.y), w = Math.abs(p.x - start.x), h = Math.abs(p.y - start.y);
      start = null;
      if (w < 6 || h < 6) { if (box) { box.remove(); box = null; } show(); return; }
      var cx = Math.round(x * s), cy = Math.round(y * s);
      var cw = Math.max(1, Math.min(pic.naturalWidth - cx, Math.round(w * s)));
      var ch = Math.max(1, Math.min(pic.naturalHeight - cy, Math.round(h * s)));
      var u = new URL(window.location.href);
      u.searchParams.set('crop', [cx, cy, cw, ch].join(','));
      document.body.classList.add('busy');
      window.location.assign(u.toString());
    });
  }
})();

// Region boxes: a result collapsed from a region item shows the part that matched, drawn over
// the thumbnail (which is cropped to a square, object-fit: cover).
(function () {
  'use strict';
  document.querySelectorAll('.pin .region[data-box]').forEach(function (el) {
    var img = el.parentNode.querySelector('img');
    var b = el.dataset.box.split(',').map(Number);
    if (!img || b.length !== 4) return;
    var place = function () {
      var nw = img.naturalWidth, nh = img.naturalHeight, W = img.clientWidth, H = img.clientHeight;
      if (!nw || !nh || !W || !H) return;
      var s = Math.max(W / nw, H / nh), ox = (W - nw * s) / 2, oy = (H - nh * s) / 2;
      el.style.left = (b[0] * s + ox) + 'px'; el.style.top = (b[1] * s + oy) + 'px';
      el.style.width = (b[2] * s) + 'px'; el.style.height = (b[3] * s) + 'px';
    };
    if (img.complete) place(); else img.addEventListener('load', place);
    window.addEventListener('resize', place);
  });
})();
