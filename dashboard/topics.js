// topics.js — the topic list on the left, which topics are watched (remembered), and their table cards.
import { url_topic } from './aggregates.js';
import { $, api, store } from './page.js';
import { TableView } from './tableview.js';

let client = null;
let on_loaded = () => {};
const views = new Map();  // topic → TableView
let topics = [];
let watched = new Set(store.get('watched', null) ?? []);
let watched_default = store.get('watched', null) === null;  // first visit: watch every topic
if (url_topic && !watched_default && !watched.has(url_topic)) { watched.add(url_topic); store.set('watched', [...watched]); }  // ?agg=TOPIC shows its card

function set_watched(topic, on) {
  if (on) watched.add(topic); else watched.delete(topic);
  store.set('watched', [...watched]);
  watched_default = false;
  sync_views();
  render_topic_list();
}

function sync_views() {
  const known = new Map(topics.map((t) => [t.name, t]));
  for (const [name, v] of views) {
    if (!watched.has(name) || !known.has(name)) { v.destroy(); views.delete(name); }
  }
  for (const t of topics) {
    if (watched.has(t.name) && !views.has(t.name)) {
      const v = new TableView(t, client, (topic) => set_watched(topic, false));
      views.set(t.name, v);
    }
  }
  // Cards in the order of the topic list. Moved only when out of order: moving a card takes the
  // focus from whatever control in it had it (every 5 s, under a keyboard user's hands).
  const box = $('#tables');
  const want = topics.map((t) => views.get(t.name)?.el).filter(Boolean);
  const have = [...box.children].filter((e) => e.classList.contains('card'));
  if (want.length !== have.length || want.some((e, i) => e !== have[i])) for (const e of want) box.append(e);
  $('#no-topics').hidden = views.size > 0;
}

function render_topic_list() {
  const ul = $('#topic-list');
  if (!topics.length) {
    ul.innerHTML = '<li class="muted">No topic you may read. Attach a table: <code>pglive attach public.orders</code></li>';
    return;
  }
  ul.replaceChildren(...topics.map((t) => {
    const li = document.createElement('li');
    li.innerHTML = '<label><input type="checkbox"><span class="name"></span><span class="subs"></span></label>';
    const box = li.querySelector('input');
    box.checked = watched.has(t.name);
    box.dataset.topic = t.name;
    box.onchange = () => set_watched(t.name, box.checked);
    li.querySelector('.name').textContent = t.name;
    li.querySelector('.name').title = `key: ${(t.key ?? []).join(', ')}\ncolumns: ${(t.columns ?? []).join(', ')}`;
    li.querySelector('.subs').textContent = t.subscribers !== undefined ? `${t.subscribers} sub${t.subscribers === 1 ? '' : 's'}` : '';
    return li;
  }));
}

async function load_topics() {
  try {
    topics = await api('/api/topics');
    topics.sort((a, b) => a.name.localeCompare(b.name));
    if (watched_default) watched = new Set(topics.map((t) => t.name));
    sync_views();
    render_topic_list();
    on_loaded();
  } catch (e) {
    if (!topics.length) $('#topic-list').innerHTML = '';
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = e.status === 401 ? 'The token was refused (401): sign out or open the page with a fresh ?token=.' : `Could not list topics: ${e.message}`;
    if (!topics.length) $('#topic-list').append(li);
  }
}

// Lists the topics now and every 5 s; `hooks.on_loaded()` after each list arrives. Returns the
// list (topics()) and load() for the admin view.
export function startTopics(live, hooks = {}) {
  client = live;
  if (hooks.on_loaded) on_loaded = hooks.on_loaded;
  load_topics();
  setInterval(load_topics, 5000);  // new attached tables and subscriber counts, without a reload
  client.on('state', (e) => { if (e.state === 'open') load_topics(); });
  // Subscriber counts change when subscriptions start (ours too): refresh soon after a snapshot.
  let topics_soon = null;
  client.on('snapshot', () => { clearTimeout(topics_soon); topics_soon = setTimeout(load_topics, 300); });
  return { topics: () => topics, load: load_topics };
}
