// dashboard.js — the operator's page: connects (pglive.js) and starts its views; each view is its own module.
//
// statusbar.js (header: connection, who, patches/s, latency, position), topics.js (the topic list
// and the live table cards of tableview.js, each with its charts of charts.js and its aggregates of
// aggregates.js), notifications.js
// (messages), adminview.js (admin tokens); page.js holds what they share (token, storage, API
// calls, colours).
import { startAdmin } from './adminview.js';
import { startNotifications } from './notifications.js';
import { is_admin, params, token } from './page.js';
import { connect } from './pglive.js';
import { startStatusBar } from './statusbar.js';
import { startTopics } from './topics.js';

// `?transport=sse` forces the fallback (for trying it, and for tests).
const transports = params.get('transport') ? params.get('transport').split(',') : undefined;
// Numbers arrive as pglive sent them when a JavaScript number would change them: every digit of a
// bigint or long numeric (sums above all), a numeric's scale (1523.40, as psql shows it).
const client = connect({ token, bigNumbers: 'text', ...(transports ? { transports } : {}) });
window.pglive = client;  // for the console (and tests)

startStatusBar(client);
let admin = null;
const topics = startTopics(client, { on_loaded: () => admin?.render_tables() });
startNotifications(client);
if (is_admin) admin = startAdmin(topics);
