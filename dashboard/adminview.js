// adminview.js — the admin panel (tokens with admin=true): capture status, attached tables, attach and detach.
import { $, api, store } from './page.js';
import { db, fmt_seconds, onDatabase, reportLag } from './statusbar.js';

let topic_list = null;  // startTopics()'s: topics() and load()
let admin_status = null;
let admin_timer = null;
let db_error = null;  // why the last status could not be read from the database, or null

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
  // The header learns first (it polls /healthz): say so here too, and read again once it is back.
  onDatabase((d) => {
    if (d.state === 'down') show_db_down(d.reason);
    else if (d.state === 'up' && db_error !== null && !$('#admin').hidden) load_admin();
  });

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
  delete m.dataset.db;
  m.textContent = text;
  m.className = `msg ${cls}`;
}

async function load_admin() {
  try {
    const s = await api('/api/admin/status');
    // Older servers answer a failed status with 200 and {"error"}: the same as a 503.
    if (s?.error) throw Object.assign(new Error(String(s.error)), { status: 503 });
    admin_status = s;
    db_error = null;
  } catch (e) {
    // 503: pglive is up, its database is not; the last tables read are no longer known to hold.
    if (e.status === 503 || db.state === 'down') show_db_down(e.message);
    else admin_msg(`status: ${e.message}`, 'bad');
    return;
  }
  if ($('#adm-msg').dataset.db) admin_msg('');
  const s = admin_status;
  const lag = s.lag_seconds === undefined || s.lag_seconds === null ? null : Number(s.lag_seconds);
  $('#adm-lag').textContent = lag === null ? '–' : fmt_seconds(lag);
  $('#adm-lag').classList.toggle('bad', lag !== null && lag > 5);
  reportLag(lag);
  $('#adm-outbox').textContent = s.outbox_rows ?? '–';
  $('#adm-tx').textContent = s.tx_rows ?? '–';
  $('#adm-pos').textContent = s.last_position ?? '–';
  $('#adm-wakeup').textContent = s.wakeup ?? '–';
  render_admin_tables();
}

function show_db_down(reason) {
  db_error = reason || 'unavailable';
  admin_status = null;
  for (const id of ['#adm-lag', '#adm-outbox', '#adm-tx', '#adm-pos', '#adm-wakeup']) $(id).textContent = '–';
  $('#adm-lag').classList.remove('bad');
  const td = document.createElement('td');
  td.colSpan = 5;
  td.className = 'db-down';
  td.textContent = `Database unavailable: ${db_error}. The attached tables cannot be read until pglive reconnects.`;
  const tr = document.createElement('tr');
  tr.append(td);
  $('#adm-tables').replaceChildren(tr);
  admin_msg('database unavailable', 'bad');
  $('#adm-msg').dataset.db = '1';
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
    const cells = [t.topic, (t.key ?? []).join(', '), (t.columns ?? []).join(', ') + (t.exclude?.length ? ` (hidden: ${t.exclude.join(', ')})` : '') +
      (t.policy ? ` (policy: ${t.policy})` : ''),  // the row policy non-admin readers get ANDed in
      String(subs.get(t.topic) ?? '–')];
    const labels = ['table', 'key', 'columns', 'subscribers'];
    for (const [i, text] of cells.entries()) {
      const td = document.createElement('td');
      td.dataset.label = labels[i];  // shown before the value where the table stacks (narrow screens)
      td.textContent = text;
      if (i === 3) td.className = 'num';
      tr.append(td);
    }
    const td = document.createElement('td');
    td.className = 'actions';
    const b = document.createElement('button');
    b.type = 'button';
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
