// transports.js — the WebSocket and SSE halves of the pglive client: open, ping, fall back, hand frames to handle_().
import { parseJSON } from './exactjson.js';

// The base class of Client (pglive.js): the transport methods, on the state Client keeps.
export class Transports {
  // WebSocket ---------------------------------------------------------------------------------

  open_ws_() {
    const u = this.url_('ws');
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new this.WS_(u.href);
    } catch (e) {
      return this.transport_failed_(`WebSocket ${u.href}: ${e.message}`);
    }
    this.ws_ = ws;
    this.ws_open_ = false;
    ws.onopen = () => {
      if (this.ws_ !== ws) return;
      this.ws_open_ = true;
      this.transport = 'ws';
      this.attempt_ = 0;
      this.lastError = null;
      this.pending_.clear();
      // The token travels in the first message, not the URL, so it stays out of access logs.
      if (this.options.token) this.send_({ op: 'auth', ref: String(this.next_ref_++), token: this.options.token });
      for (const sub of this.subs_.values()) this.start_sub_(sub);
      this.start_pings_();
      this.set_state_('open');
    };
    ws.onmessage = (ev) => {
      if (this.ws_ !== ws) return;
      let msg;
      try { msg = parseJSON(ev.data, this.options.bigNumbers); } catch {
        const err = { code: 'bad_frame', message: 'a frame from the server is not JSON' };
        this.emit_('error', err);
        return this.report_(err);
      }
      this.handle_(msg, null);
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (this.ws_ !== ws) return;
      this.ws_ = null;
      this.stop_pings_();
      const was_open = this.ws_open_;
      this.ws_open_ = false;
      if (this.state === 'closed') return;
      if (!was_open) return this.transport_failed_(`WebSocket ${u.href} could not be opened`);
      this.lastError = { code: 'disconnected', message: `connection closed (${ev?.code ?? '?'}${ev?.reason ? ': ' + ev.reason : ''})` };
      this.schedule_reconnect_();
    };
  }

  send_(msg) {
    if (!this.ws_ || !this.ws_open_) return false;
    try { this.ws_.send(JSON.stringify(msg)); return true; } catch { return false; }
  }

  start_pings_() {
    this.stop_pings_();
    const o = this.options;
    if (!(o.ping_interval_ms > 0)) return;
    this.ping_timer_ = setInterval(() => {
      if (this.pong_timer_) return;
      const ref = `ping-${this.next_ref_++}`;
      this.ping_ref_ = ref;
      this.send_({ op: 'ping', ref });
      this.pong_timer_ = setTimeout(() => {
        // No pong: the link is dead even though the socket never said so.
        this.pong_timer_ = null;
        const ws = this.ws_;
        if (!ws) return;
        this.ws_ = null;
        this.ws_open_ = false;
        detach_ws(ws);
        try { ws.close(4000, 'no pong'); } catch { /* closing anyway */ }
        this.stop_pings_();
        this.lastError = { code: 'timeout', message: `no answer to a ping within ${o.ping_timeout_ms} ms` };
        this.schedule_reconnect_();
      }, o.ping_timeout_ms);
    }, o.ping_interval_ms);
  }

  stop_pings_() {
    clearInterval(this.ping_timer_);
    clearTimeout(this.pong_timer_);
    this.ping_timer_ = null;
    this.pong_timer_ = null;
  }

  // SSE: one EventSource per subscription (an SSE stream carries one topic) ------------------

  open_sse_all_() {
    this.transport = 'sse';
    this.sse_failed_ = false;
    if (this.subs_.size === 0) {
      this.attempt_ = 0;
      this.set_state_('open');
      return;
    }
    for (const sub of this.subs_.values()) this.open_sse_(sub);
  }

  open_sse_(sub) {
    this.close_sse_(sub);
    const name = this.new_name_(sub);
    const u = this.url_('sse', {
      topic: sub.topic, filter: sub.filter, limit: sub.limit, order: sub.order, group: sub.group, aggregate: sub.aggregate, since: sub.position,
      token: this.options.token,
    });
    let es;
    try {
      es = new this.ES_(u.href);
    } catch (e) {
      return this.sse_lost_(`EventSource ${u.pathname}: ${e.message}`, false);
    }
    this.sse_.set(sub.id_, es);
    let opened = false;
    const on_frame = (ev) => {
      if (this.sse_.get(sub.id_) !== es || !ev.data) return;
      let msg;
      try { msg = parseJSON(ev.data, this.options.bigNumbers); } catch { return; }
      msg.sub = name;  // the stream is this subscription whatever name the server gives it
      this.handle_(msg, sub);
    };
    for (const t of ['subscribed', 'snapshot', 'patch', 'message']) es.addEventListener(t, on_frame);
    es.onopen = () => {
      if (this.sse_.get(sub.id_) !== es) return;
      opened = true;
      this.attempt_ = 0;
      this.lastError = null;
      this.update_sse_state_();
    };
    es.onerror = (ev) => {
      if (this.sse_.get(sub.id_) !== es) return;
      if (ev && ev.data) return on_frame(ev);  // an `event: error` record from the server
      if (es.readyState === 2 /* CLOSED: the browser gave up (HTTP error, wrong type) */) {
        this.sse_.delete(sub.id_);
        if (!opened && [...this.sse_.values()].some((o) => o.readyState === 1)) {
          // The server is up (other streams flow) and refused this one: a bad filter or a forbidden topic.
          sub.error = { code: 'refused', message: `the server refused the event stream of ${sub.topic}` };
          if (sub.onError) sub.onError(sub.error);
          this.emit_('error', { ...sub.error, sub });
          return this.report_(sub.error, sub);
        }
        return this.sse_lost_(`the event stream of ${sub.topic} was refused or lost`, opened);
      }
      if (!opened) {
        // Never opened (server down): back off and start again from WebSocket, rather than
        // leave every tab on the fallback for good after one outage.
        return this.sse_lost_(`the event stream of ${sub.topic} could not be opened`, false);
      }
      // CONNECTING after it was open: the browser reconnects by itself and resumes with Last-Event-ID.
      this.lastError = { code: 'disconnected', message: `the event stream of ${sub.topic} dropped; resuming` };
      this.set_state_('reconnecting');
    };
  }

  update_sse_state_() {
    for (const es of this.sse_.values()) if (es.readyState !== 1) return;
    this.set_state_('open');
  }

  sse_lost_(message, was_open) {
    if (this.transport !== 'sse' || this.state === 'closed') return;
    for (const es of this.sse_.values()) es.close();
    this.sse_.clear();
    this.transport = null;
    this.lastError = { code: was_open ? 'disconnected' : 'connect_failed', message };
    if (!was_open) this.connect_failed_();
    this.schedule_reconnect_();  // starts again from the preferred transport
  }

  close_sse_(sub) {
    const es = this.sse_.get(sub.id_);
    if (es) { es.close(); this.sse_.delete(sub.id_); }
  }
}

export function detach_ws(ws) {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
}
