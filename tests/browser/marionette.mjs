// A minimal client of Firefox's Marionette protocol (what geckodriver speaks to Firefox; Debian
// does not package geckodriver): a TCP connection carrying `LENGTH:JSON` frames. The server
// greets with {"applicationType":"gecko","marionetteProtocol":3}; a command is
// [0, id, "Name", params] and its reply [1, id, error, result].
// https://firefox-source-docs.mozilla.org/testing/marionette/Protocol.html
import net from 'node:net';

export class Marionette {
  static async connect(port, host = '127.0.0.1') {
    const m = new Marionette();
    await m.open(port, host);
    return m;
  }

  open(port, host) {
    this.buf = Buffer.alloc(0);
    this.waiters = new Map();
    this.nextId = 1;
    return new Promise((resolve, reject) => {
      this.onHello = resolve;
      this.sock = net.connect(port, host);
      this.sock.once('error', reject);
      this.sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.drain(); });
      this.sock.on('close', () => {
        for (const [, w] of this.waiters) w.reject(new Error('Marionette connection closed'));
        this.waiters.clear();
      });
    }).then((hello) => {
      if (hello.applicationType !== 'gecko' || hello.marionetteProtocol !== 3) throw new Error(`unexpected greeting ${JSON.stringify(hello)}`);
      this.hello = hello;
    });
  }

  drain() {
    for (;;) {
      const colon = this.buf.indexOf(0x3a);
      if (colon < 0) return;
      const len = Number(this.buf.subarray(0, colon).toString('ascii'));
      if (!Number.isInteger(len)) throw new Error('bad Marionette frame');
      if (this.buf.length < colon + 1 + len) return;
      const msg = JSON.parse(this.buf.subarray(colon + 1, colon + 1 + len).toString('utf8'));
      this.buf = this.buf.subarray(colon + 1 + len);
      if (this.onHello) { const h = this.onHello; this.onHello = null; h(msg); continue; }
      const [type, id, error, result] = msg;
      const w = this.waiters.get(id);
      if (type !== 1 || !w) continue;
      this.waiters.delete(id);
      if (error) w.reject(Object.assign(new Error(`${error.error}: ${error.message}`), { marionette: error }));
      else w.resolve(result);
    }
  }

  send(name, params = {}) {
    const id = this.nextId++;
    const data = Buffer.from(JSON.stringify([0, id, name, params]), 'utf8');
    return new Promise((resolve, reject) => {
      this.waiters.set(id, { resolve, reject });
      this.sock.write(Buffer.concat([Buffer.from(`${data.length}:`, 'ascii'), data]));
    });
  }

  // WebDriver commands used by the tests.
  newSession() { return this.send('WebDriver:NewSession', { capabilities: { alwaysMatch: { acceptInsecureCerts: false } } }); }
  navigate(url) { return this.send('WebDriver:Navigate', { url }); }
  // `script` is a function body; its return value (JSON-serialisable) comes back.
  async execute(script, args = []) { return (await this.send('WebDriver:ExecuteScript', { script, args })).value; }
  // `script` calls arguments[arguments.length - 1] with its result.
  async executeAsync(script, args = [], timeoutMs = 30000) {
    await this.send('WebDriver:SetTimeouts', { script: timeoutMs });
    return (await this.send('WebDriver:ExecuteAsyncScript', { script, args })).value;
  }
  // A PNG of the current viewport.
  async screenshot() { return Buffer.from((await this.send('WebDriver:TakeScreenshot', { full: false })).value, 'base64'); }
  quit() { return this.send('Marionette:Quit', { flags: ['eForceQuit'] }).catch(() => {}); }
  close() { this.sock?.destroy(); }
}
