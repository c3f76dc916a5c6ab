// notifications.js — the notifications panel: messages published to the page's channels and to its user.
import { $, colors, store } from './page.js';
import { formatInstant, onZoneChange } from './timefmt.js';

let client = null;
const max_notes = 100;
let note_count = 0;
const channels = new Map();  // name → Subscription
function listen(name) {
  name = name.trim();
  if (!name || channels.has(name)) return;
  const chip = document.createElement('span');
  chip.className = 'chip';
  chip.dataset.channel = name;
  chip.textContent = name;
  const x = document.createElement('button');
  x.type = 'button';
  x.textContent = '×';
  x.title = `stop listening to ${name}`;
  x.onclick = () => { channels.get(name)?.close(); channels.delete(name); chip.remove(); store.set('channels', [...channels.keys()]); };
  chip.append(x);
  $('#channels').append(chip);
  const sub = client.subscribe(name, {
    onError: (err) => { chip.classList.add('bad'); chip.title = `${err.code}: ${err.message}`; },
    onChange: () => { chip.classList.remove('bad'); chip.title = ''; },
  });
  channels.set(name, sub);
  store.set('channels', [...channels.keys()]);
}

function write_when(el) {
  const at = Number(el.dataset.at);
  el.textContent = formatInstant(at, { parts: 'time' });
  el.title = formatInstant(at, { fraction: 3 });
  el.dateTime = new Date(at).toISOString();
}

export function startNotifications(live) {
  client = live;
  onZoneChange(() => { for (const el of document.querySelectorAll('#notes .when')) write_when(el); });
  client.on('message', (m) => {
    const ol = $('#notes');
    ol.querySelector('.empty')?.remove();
    const li = document.createElement('li');
    const data = m.data;
    const level = typeof data === 'object' && data !== null ? (data.level ?? data.severity ?? '') : '';
    if (level) li.className = `level-${String(level).toLowerCase()}`;
    const meta = document.createElement('div');
    meta.className = 'meta';
    const from = document.createElement('span');
    from.textContent = m.user ? `to ${m.user}` : m.topic ?? '';
    // 24-hour clock and zone, whatever the browser's locale; the title has the date too.
    const when = document.createElement('time');
    when.className = 'when';
    const at = Date.now();
    when.dataset.at = String(at);
    write_when(when);
    meta.append(from, when);
    const text = document.createElement('div');
    text.className = 'text';
    text.textContent = typeof data === 'object' && data !== null && typeof (data.text ?? data.message) === 'string'
      ? (data.text ?? data.message) : JSON.stringify(data);
    li.append(meta, text);
    li.title = JSON.stringify(data, null, 2);
    ol.prepend(li);
    li.animate([{ backgroundColor: colors['flash-add'] }, { backgroundColor: colors['panel-2'] }], { duration: 1500 });
    while (ol.children.length > max_notes) ol.lastElementChild.remove();
    note_count += 1;
    const badge = $('#note-count');
    badge.hidden = false;
    badge.textContent = String(note_count);
  });

  for (const c of store.get('channels', ['alerts'])) listen(c);
  $('#channel-form').addEventListener('submit', (e) => {
    e.preventDefault();
    listen($('#channel-input').value);
    $('#channel-input').value = '';
  });
}
