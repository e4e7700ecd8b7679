// Is the owner of dev.latchkey.Credentials latchkeyd? The rule of crates/api/src/latchkeyd.rs
// (see crates/daemon/PROMPT-TRUST.md, "Who is latchkeyd, for its peers"), for the Electron bridge:
// owning a bus name proves nothing, and any peer can emit a Response with any path, so the owner is
// read from the kernel and accepted when it runs a latchkeyd that an installed D-Bus activation
// file names and the bus started it (its parent is the bus daemon, dbus-daemon's activation
// helper, or systemd --user), or it runs an executable a test harness named in
// LATCHKEY_TEST_LATCHKEYD, or it is this process. Node has no pidfd: the process is pinned by its
// start time, read before and after, and the bus is asked again afterwards that the name still
// belongs to that PID.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const BUS_NAME = 'dev.latchkey.Credentials';
const ACTIVATION_FILE = 'dev.latchkey.Credentials.service';
const TEST_LATCHKEYD_ENV = 'LATCHKEY_TEST_LATCHKEYD';
const SYSTEMD_BINARIES = ['/usr/lib/systemd/systemd', '/lib/systemd/systemd'];

const { Message } = require('dbus-next');

// The session bus's service directories, in dbus-daemon's order.
function serviceDirs(env = process.env) {
  const abs = (p) => (p && path.isAbsolute(p) ? p : null);
  const home = abs(env.XDG_DATA_HOME) ?? (env.HOME ? path.join(env.HOME, '.local/share') : null);
  let dataDirs = (env.XDG_DATA_DIRS ?? '').split(':').filter((d) => abs(d));
  if (dataDirs.length === 0) dataDirs = ['/usr/local/share', '/usr/share'];
  return [home, ...dataDirs].filter(Boolean).map((d) => path.join(d, 'dbus-1/services'));
}

// The executable of an activation file for `name` (`[D-BUS Service]`, `Exec=` absolute).
function activationExec(text, name = BUS_NAME) {
  let inGroup = false;
  let found = null;
  let exec = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) { inGroup = line === '[D-BUS Service]'; continue; }
    const eq = line.indexOf('=');
    if (!inGroup || eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === 'Name') found = value;
    if (key === 'Exec') exec = value.split(/\s+/)[0] || null;
  }
  return found === name && exec && path.isAbsolute(exec) ? exec : null;
}

function installedExecutables(dirs = serviceDirs()) {
  const out = [];
  for (const dir of dirs) {
    let text;
    try { text = fs.readFileSync(path.join(dir, ACTIVATION_FILE), 'utf8'); } catch { continue; }
    const exe = activationExec(text);
    if (exe && !out.includes(exe)) out.push(exe);
  }
  return out;
}

function testExecutables(env = process.env) {
  return (env[TEST_LATCHKEYD_ENV] ?? '').split(':').filter((p) => path.isAbsolute(p));
}

// Device and inode of a file, following links (for /proc/PID/exe: the file the process runs).
function fileId(p) {
  try {
    const st = fs.statSync(p, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

// /proc/PID/stat: parent PID and start time (fields 4 and 22; parsing starts after the last ')').
function procStat(pid) {
  let text;
  try { text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return null; }
  const fields = text.slice(text.lastIndexOf(')') + 1).trim().split(/\s+/);
  if (fields.length < 20) return null;
  return { ppid: Number(fields[1]), start: fields[19] };
}

async function driver(bus, member, signature, body) {
  const reply = await bus.call(new Message({
    destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus',
    member, signature, body,
  }));
  return reply.body;
}

async function credentials(bus, name) {
  const [creds] = await driver(bus, 'GetConnectionCredentials', 's', [name]);
  return { pid: creds.ProcessID?.value, uid: creds.UnixUserID?.value };
}

// The process behind `name`, read from /proc and pinned by its start time.
async function identify(bus, name) {
  const { pid, uid } = await credentials(bus, name);
  if (typeof pid !== 'number') throw new Error(`the bus did not report the process of ${name}`);
  if (typeof uid === 'number' && typeof process.getuid === 'function' && uid !== process.getuid()) {
    throw new Error(`${name} runs as uid ${uid}, not as this user`);
  }
  const before = procStat(pid);
  const exe = fileId(`/proc/${pid}/exe`);
  let executable = null;
  try { executable = fs.readlinkSync(`/proc/${pid}/exe`); } catch { /* unreadable */ }
  const after = procStat(pid);
  if (!before || !after || before.start !== after.start || before.ppid !== after.ppid) {
    throw new Error(`the process of ${name} went away while it was read`);
  }
  if ((await credentials(bus, name)).pid !== pid) throw new Error(`${name} changed process while it was read`);
  return { pid, ppid: before.ppid, start: before.start, exe, executable };
}

// Whether the bus started `peer`: its parent is the bus daemon, dbus-daemon's activation helper
// (a fork of the bus daemon), or the user's systemd --user.
async function startedByBus(bus, peer) {
  const busPid = (await credentials(bus, 'org.freedesktop.DBus')).pid;
  const parent = procStat(peer.ppid);
  if (!parent) return false;
  const parentExe = fileId(`/proc/${peer.ppid}/exe`);
  let ok = false;
  if (typeof busPid === 'number' && peer.ppid === busPid) ok = true;
  else if (typeof busPid === 'number' && parent.ppid === busPid) ok = parentExe !== null && parentExe === fileId(`/proc/${busPid}/exe`);
  else {
    let cgroup = '';
    try { cgroup = fs.readFileSync(`/proc/${peer.ppid}/cgroup`, 'utf8'); } catch { /* none */ }
    const v2 = cgroup.split('\n').find((l) => l.startsWith('0::'))?.slice(3) ?? '';
    const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
    ok = SYSTEMD_BINARIES.some((b) => fileId(b) === parentExe) && v2.endsWith(`/user@${uid}.service/init.scope`);
  }
  const now = procStat(peer.pid);
  const parentNow = procStat(peer.ppid);
  return ok && now?.start === peer.start && now?.ppid === peer.ppid && parentNow?.start === parent.start;
}

// Resolves the owner of dev.latchkey.Credentials (activating latchkeyd if nobody owns it) and
// returns its unique name if it is latchkeyd; rejects otherwise.
async function verifiedOwner(bus, { installed = installedExecutables(), forTests = testExecutables() } = {}) {
  let owner;
  try {
    [owner] = await driver(bus, 'GetNameOwner', 's', [BUS_NAME]);
  } catch {
    await driver(bus, 'StartServiceByName', 'su', [BUS_NAME, 0]);
    [owner] = await driver(bus, 'GetNameOwner', 's', [BUS_NAME]);
  }
  const peer = await identify(bus, owner);
  if (peer.pid === process.pid) return owner;
  if (forTests.some((e) => fileId(e) !== null && fileId(e) === peer.exe)) return owner;
  if (!installed.some((e) => fileId(e) !== null && fileId(e) === peer.exe)) {
    throw new Error(`${owner} owns ${BUS_NAME} but is not latchkeyd: PID ${peer.pid} runs ${peer.executable}`);
  }
  if (!(await startedByBus(bus, peer))) {
    throw new Error(`${owner} runs latchkeyd (PID ${peer.pid}) but was not started by the bus (parent PID ${peer.ppid})`);
  }
  return owner;
}

module.exports = { activationExec, installedExecutables, serviceDirs, verifiedOwner, TEST_LATCHKEYD_ENV };
