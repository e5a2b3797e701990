// The push channel, GET /v1/advisory/stream (WebSocket): fixes go up as JSON text frames, the
// server answers each one (`seq`: the fix's number on this connection) and pushes new advice by
// itself when the timing of the next signal changes (a plan write, a SPaT update).  The socket
// reconnects by itself after a growing, jittered delay; while it is down, the caller sends its
// fixes over HTTP instead (live.js).

const RETRY_MIN_MS = 500; // first reconnect delay; doubled after every failed attempt
const RETRY_MAX_MS = 10_000; // a phone out of coverage retries at least this often

/** The stream's URL next to the page (ws: or wss: as the page is http: or https:), so that it
 * also works under a path prefix behind a proxy. */
export function streamUrl(path = "v1/advisory/stream") {
  const url = new URL(path, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

/** One WebSocket to the advisory stream, kept open until close().  Callbacks: onFrame(frame)
 * for every JSON frame received, onState(state) with "connecting", "open" or "closed". */
export class AdviceStream {
  constructor({ url = streamUrl(), onFrame, onState }) {
    this.url = url;
    this.onFrame = onFrame;
    this.onState = onState;
    this.ws = null;
    this.wanted = false;
    this.retryMs = RETRY_MIN_MS;
    this.timer = null;
    this.sent = 0; // frames sent on the current connection: the server numbers them the same
    this.state = "closed";
    this.connects = 0; // connections opened (for tests and the status line)
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  open() {
    this.wanted = true;
    if (!this.ws) this.connect();
  }

  close() {
    this.wanted = false;
    clearTimeout(this.timer);
    this.drop();
  }

  /** Give up on the current connection (it stopped answering) and reconnect. */
  restart() {
    this.drop();
    if (this.wanted) this.retry();
  }

  /** Send one fix; its number on this connection (the `seq` of its answer), or null when the
   * socket is not open (the caller then uses HTTP). */
  send(body) {
    if (!this.isOpen) return null;
    this.ws.send(JSON.stringify(body));
    this.sent += 1;
    return this.sent;
  }

  // ---------------------------------------------------------------- internals
  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onState(state);
  }

  connect() {
    clearTimeout(this.timer);
    this.setState("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.setState("closed");
      this.retry();
      return;
    }
    this.ws = ws;
    this.sent = 0;
    ws.onopen = () => {
      this.retryMs = RETRY_MIN_MS;
      this.connects += 1;
      this.setState("open");
    };
    ws.onmessage = (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return; // not a frame of this protocol
      }
      this.onFrame(frame);
    };
    ws.onerror = () => {}; // a close event follows, which retries
    ws.onclose = () => {
      if (this.ws !== ws) return; // dropped on purpose
      this.ws = null;
      this.setState("closed");
      if (this.wanted) this.retry();
    };
  }

  /** Close the socket without its close event retrying. */
  drop() {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try {
        ws.close(1000);
      } catch {
        /* already closing */
      }
    }
    this.setState("closed");
  }

  retry() {
    clearTimeout(this.timer);
    const delay = this.retryMs * (0.8 + 0.4 * Math.random()); // jitter: not all phones at once
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.timer = setTimeout(() => {
      if (this.wanted && !this.ws) this.connect();
    }, delay);
  }
}
