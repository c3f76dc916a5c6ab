// adminview.js — the admin panel (tokens with admin=true): capture status, attached tables, attach and detach.
import { $, api, store } from './page.js';

let topic_list = null;  // startTopics()'s: topics() and load()
let admin_status = null;
let admin_timer = null;

// Shows the admin toggle and panel; `topics` is what startTopics() returned. Returns
// render_tables() for when the topic list (with its subscriber counts) changes.
export function startAdmin(topics) {
  topic_list = topics;
  const toggle = $('#admin-toggle');
  toggle.hidden = false;
  const show = (on) => {
    $('#admin').hidden = !on;
    toggle.setAttribute('aria-pressed', String(on));
    store.set('admin_open', on);
    clearInterval(admin_timer);
    if (on) { load_admin(); admin_timer = setInterval(load_admin, 2000); }
  };
  toggle.onclick = () => show($('#admin').hidden);
  show(store.get('admin_open', true));

  $('#attach-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const table = $('#attach-table').value.trim();
    const key = $('#attach-key').value.split(',').map((s) => s.trim()).filter(Boolean);
    const body = { table };
    if (key.length) body.key = key;
    admin_msg(`attaching ${table}…`);
    try {
      await api('/api/admin/attach', { method: 'POST', body: JSON.stringify(body) });
      admin_msg(`attached ${table}`, 'good');
      $('#attach-table').value = '';
      $('#attach-key').value = '';
      await Promise.all([load_admin(), topic_list.load()]);
    } catch (err) {
      admin_msg(`attach ${table}: ${err.message}`, 'bad');
    }
  });
  return { render_tables: render_admin_tables };
}


function admin_msg(text, cls = '') {
  const m = $('#adm-msg');
  m.textContent = text;
  m.className = `msg ${cls}`;
}

async function load_admin() {
  try {
    admin_status = await api('/api/admin/status');
  } catch (e) {
    admin_msg(`status: ${e.message}`, 'bad');
    return;
  }
  const s = admin_status;
  const lag = Number(s.lag_seconds ?? 0);
  $('#adm-lag').textContent = `${lag < 10 ? lag.toFixed(2) : lag.toFixed(0)} s`;
  $('#adm-lag').classList.toggle('bad', lag > 5);
  $('#adm-outbox').textContent = s.outbox_rows ?? '–';
  $('#adm-tx').textContent = s.tx_rows ?? '–';
  $('#adm-pos').textContent = s.last_position ?? '–';
  $('#adm-wakeup').textContent = s.wakeup ?? '–';
  render_admin_tables();
}

let detach_armed = { topic: null, until: 0 };
function render_admin_tables() {
  if (!admin_status) return;
  const subs = new Map(topic_list.topics().map((t) => [t.name, t.subscribers]));
  for (const t of admin_status.topics ?? []) subs.set(t.name, t.subscribers);
  const tbody = $('#adm-tables');
  const tables = admin_status.tables ?? [];
  if (!tables.length) {
    tbody.innerHTML = '<tr><td colspan="5" class="muted">No table attached.</td></tr>';
    return;
  }
  tbody.replaceChildren(...tables.map((t) => {
    const tr = document.createElement('tr');
    tr.dataset.topic = t.topic;
    const cells = [t.topic, (t.key ?? []).join(', '), (t.columns ?? []).join(', ') + (t.exclude?.length ? ` (hidden: ${t.exclude.join(', ')})` : ''),
      String(subs.get(t.topic) ?? '–')];
    for (const [i, text] of cells.entries()) {
      const td = document.createElement('td');
      td.textContent = text;
      if (i === 3) td.className = 'num';
      tr.append(td);
    }
    const td = document.createElement('td');
    const b = document.createElement('button');
    // Two clicks, no modal dialog: detaching drops every live subscription of the table. The
    // armed state lives outside the button, which is rebuilt on every status refresh.
    const armed = detach_armed.topic === t.topic && Date.now() < detach_armed.until;
    b.className = armed ? 'danger armed' : 'danger';
    b.textContent = armed ? 'Confirm detach' : 'Detach';
    b.onclick = async () => {
      if (!(detach_armed.topic === t.topic && Date.now() < detach_armed.until)) {
        detach_armed = { topic: t.topic, until: Date.now() + 4000 };
        b.classList.add('armed');
        b.textContent = 'Confirm detach';
        setTimeout(render_admin_tables, 4100);
        return;
      }
      detach_armed = { topic: null, until: 0 };
      admin_msg(`detaching ${t.topic}…`);
      try {
        await api('/api/admin/detach', { method: 'POST', body: JSON.stringify({ table: t.topic }) });
        admin_msg(`detached ${t.topic}`, 'good');
        await Promise.all([load_admin(), topic_list.load()]);
      } catch (err) {
        admin_msg(`detach ${t.topic}: ${err.message}`, 'bad');
      }
    };
    td.append(b);
    tr.append(td);
    return tr;
  }));
}
