#!/usr/bin/python3
"""Drives latchkey-ui the way a screen reader does, through AT-SPI (Debian's python3-pyatspi).

Reads one JSON command per line on stdin and answers one JSON line on stdout:
  {"op": "wait_window", "app": NAME, "timeout": S}  -> {"ok": true, "title": ...}
  {"op": "wait_text", "app": NAME, "text": T, "timeout": S} -> {"ok": true}
  {"op": "texts", "app": NAME}                       -> {"ok": true, "texts": [...], "buttons": [...]}
  {"op": "set_text", "app": NAME, "name": N, "text": T}
  {"op": "press", "app": NAME, "name": N}           (a button, by its accessible name)
  {"op": "wait_gone", "app": NAME, "timeout": S}
  {"op": "windows", "app": NAME}                     -> {"ok": true, "titles": [...]}
  {"op": "key", "keysym": N}                         (an X keysym, pressed and released)
  {"op": "tree", "app": NAME}                        -> {"ok": true, "tree": "..."}
Errors are {"ok": false, "error": "..."}. A person's view: only showing windows and their visible widgets count.
"""
import json
import sys
import time

import pyatspi
from gi.repository import GLib


def pump():
    """Lets pyatspi see the bus signals (applications and windows coming and going) that arrived
    since the last call: they are only dispatched from GLib's main context."""
    ctx = GLib.MainContext.default()
    while ctx.pending():
        ctx.iteration(False)


def apps(name):
    desktop = pyatspi.Registry.getDesktop(0)
    found = []
    for i in range(desktop.childCount):
        a = desktop.getChildAtIndex(i)
        if a is not None and a.name == name:
            found.append(a)
    return found


def showing(acc):
    try:
        return acc.getState().contains(pyatspi.STATE_SHOWING)
    except Exception:
        return False


def windows(name):
    out = []
    for a in apps(name):
        for i in range(a.childCount):
            w = a.getChildAtIndex(i)
            # GTK 4.8 does not always set "showing" on a dialog it presents over another
            # window (an AdwMessageDialog stays "visible" only): take those too.
            if w is not None and (showing(w) or (role(w) == "dialog" and visible(w))):
                out.append(w)
    return out


def visible(acc):
    # GTK 4.8 sets "showing" on toplevels only; inside a window, "visible" is what is drawn.
    try:
        return acc.getState().contains(pyatspi.STATE_VISIBLE)
    except Exception:
        return False


def walk(acc, depth=0):
    yield acc, depth
    try:
        n = acc.childCount
    except Exception:
        return
    for i in range(n):
        try:
            c = acc.getChildAtIndex(i)
        except Exception:
            continue
        if c is not None and visible(c):
            yield from walk(c, depth + 1)


def role(acc):
    try:
        return acc.getRoleName()
    except Exception:
        return "?"


def text_of(acc):
    try:
        t = acc.queryText()
        return t.getText(0, t.characterCount)
    except Exception:
        return None


def window(name):
    ws = windows(name)
    if not ws:
        raise RuntimeError("no window of %s is showing" % name)
    return ws[-1]


def everything(name):
    # A dialog (a confirmation over the Passkeys window) is its own toplevel, and which
    # toplevel an application lists last is not fixed: look through all that are showing,
    # the last listed first.
    ws = windows(name)
    if not ws:
        raise RuntimeError("no window of %s is showing" % name)
    for w in reversed(ws):
        yield from walk(w)


def find(name, acc_name, roles):
    for acc, _ in everything(name):
        if acc.name == acc_name and role(acc) in roles:
            return acc
    # libadwaita 1.2's message dialog buttons get their name from their label, which GTK 4.8
    # reads twice ("Delete Delete"): the label inside such a button stands for the button.
    for acc, _ in everything(name):
        if acc.name == acc_name and role(acc) == "label":
            parent = acc.parent
            if parent is not None and role(parent) in roles and parent.name in ("", acc_name + " " + acc_name):
                return parent
    found = [role(acc) for acc, _ in everything(name) if acc.name == acc_name]
    if found:
        raise RuntimeError("%r is a %s, not a %s" % (acc_name, "/".join(found), "/".join(roles)))
    raise RuntimeError("no %s named %r" % ("/".join(roles), acc_name))


# What "press" acts on: buttons, toggles and switches (GTK 4.8 reports a switch as a toggle
# button or a switch depending on the at-spi2 version).
PRESSABLE = ("push button", "toggle button", "check box", "switch")


def texts(name):
    ts, buttons = [], []
    for acc, _ in everything(name):
        r = role(acc)
        if r == "label":
            ts.append(acc.name)
        elif r in PRESSABLE:
            buttons.append(acc.name)
    return ts, buttons


def until(timeout, probe):
    end = time.time() + timeout
    last = None
    while True:
        pump()
        try:
            v = probe()
            if v:
                return v
        except Exception as e:  # the tree changes under us while a window opens
            last = e
        if time.time() > end:
            raise RuntimeError("timed out" + (": %s" % last if last else ""))
        time.sleep(0.05)


def handle(cmd):
    pump()
    op = cmd["op"]
    app = cmd.get("app", "latchkey-ui")
    timeout = float(cmd.get("timeout", 20))
    if op == "wait_window":
        w = until(timeout, lambda: (windows(app) or [None])[-1])
        return {"title": w.name}
    if op == "wait_text":
        until(timeout, lambda: cmd["text"] in texts(app)[0])
        return {}
    if op == "wait_gone":
        until(timeout, lambda: not windows(app))
        return {}
    if op == "apps":
        desktop = pyatspi.Registry.getDesktop(0)
        out = []
        for i in range(desktop.childCount):
            a = desktop.getChildAtIndex(i)
            kids = []
            for j in range(a.childCount if a else 0):
                w = a.getChildAtIndex(j)
                kids.append([w.name, role(w), showing(w)])
            out.append([a.name if a else None, kids])
        return {"apps": out}
    if op == "windows":
        return {"titles": [w.name for w in windows(app)]}
    if op == "texts":
        ts, bs = texts(app)
        return {"texts": ts, "buttons": bs}
    if op == "set_text":
        acc = find(app, cmd["name"], ("password text", "text", "entry"))
        acc.queryEditableText().setTextContents(cmd["text"])
        return {}
    if op == "press":
        acc = until(timeout, lambda: find(app, cmd["name"], PRESSABLE))
        if cmd.get("sensitive", True):
            until(timeout, lambda: acc.getState().contains(pyatspi.STATE_SENSITIVE))
        acc.queryAction().doAction(0)
        return {}
    if op == "key":
        # A key press as the keyboard would send it (the registry synthesises it with XTest).
        pyatspi.Registry.generateKeyboardEvent(int(cmd["keysym"]), None, pyatspi.KEY_SYM)
        return {}
    if op == "tree":
        lines = []

        def dump(acc, depth):
            t = text_of(acc)
            states = [pyatspi.stateToString(s) for s in acc.getState().getStates()]
            lines.append("%s%s %r%s %s" % ("  " * depth, role(acc), acc.name, "" if t in (None, "") else " text=%r" % t, ",".join(states)))
            for i in range(acc.childCount):
                c = acc.getChildAtIndex(i)
                if c is not None and depth < 30:
                    dump(c, depth + 1)

        dump(window(app), 0)
        return {"tree": "\n".join(lines)}
    raise RuntimeError("unknown op %r" % op)


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            out = handle(json.loads(line))
            out["ok"] = True
        except Exception as e:
            out = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
