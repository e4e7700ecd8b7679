//! For the benchmark (`cargo bench -p latchkey-bench`, `latchkey_bench::ui`): with
//! `LATCHKEY_UI_TRACE=FILE` in its environment, the prompt appends a line to FILE when a
//! request's window is mapped (`map REQUEST_ID MICROSECONDS`) and when its first frame has been
//! drawn (`paint REQUEST_ID MICROSECONDS`), in `CLOCK_MONOTONIC` microseconds
//! (`g_get_monotonic_time`), so another process can time latchkeyd's call to the dialog on
//! screen on the same clock. Off unless set; it records times and latchkeyd's request IDs only,
//! never what a dialog shows.

use std::io::Write as _;
use std::path::PathBuf;

use gtk::glib;
use gtk::prelude::*;

/// The environment variable naming the trace file.
pub const TRACE_ENV: &str = "LATCHKEY_UI_TRACE";

fn file() -> Option<PathBuf> {
    std::env::var_os(TRACE_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn append(path: &PathBuf, event: &str, id: &str, micros: i64) {
    let line = format!("{event} {id} {micros}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        tracing::debug!(error = %e, "cannot write the trace");
    }
}

/// Traces `window` (request `id`) when tracing is on: its `map`, then its first frame drawn.
pub fn watch(window: &adw::Window, id: &str) {
    let Some(path) = file() else { return };
    let id = id.to_owned();
    window.connect_map(move |w| {
        append(&path, "map", &id, glib::monotonic_time());
        let Some(clock) = w.frame_clock() else {
            return;
        };
        let (path, id) = (path.clone(), id.clone());
        let handler = std::rc::Rc::new(std::cell::Cell::new(None));
        let me = handler.clone();
        let h = clock.connect_after_paint(move |clock| {
            append(&path, "paint", &id, glib::monotonic_time());
            if let Some(h) = me.take() {
                clock.disconnect(h);
            }
        });
        handler.set(Some(h));
    });
}
