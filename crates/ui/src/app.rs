//! The GTK side of the prompt: one [`RequestWindow`] per latchkeyd request, created at its first
//! step and forgotten when it closes; the process quits after `idle` with no window open, so the
//! next prompt within that time is instant and an idle session holds no prompt process.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use gtk::glib;
use gtk::prelude::*;

use crate::dialog::{Event, RequestWindow};
use crate::service::UiRequest;

/// Most windows open at once; latchkeyd shows one prompt at a time, so more means a bug or abuse.
pub const MAX_WINDOWS: usize = 16;

/// The prompt's windows and idle timer.
pub struct Prompts {
    app: adw::Application,
    windows: RefCell<HashMap<String, Rc<RequestWindow>>>,
    idle: Duration,
    idle_timer: RefCell<Option<glib::SourceId>>,
    /// Tells latchkeyd the user cancelled request `id` between calls.
    cancelled: Box<dyn Fn(String)>,
    /// Gives up the bus name before quitting.
    release: Box<dyn Fn()>,
    /// The name is released: quit as soon as the last window closes.
    draining: Cell<bool>,
    /// Requests recently taken down, so a late status line does not reopen their window.
    finished: RefCell<VecDeque<String>>,
    hold: RefCell<Option<gio::ApplicationHoldGuard>>,
}

use gtk::gio;

/// How long a released prompt still serves calls that were already on their way to it.
const DRAIN: Duration = Duration::from_millis(500);

impl Prompts {
    /// The prompt for `app`, quitting after `idle` without windows.
    pub fn new(
        app: &adw::Application,
        idle: Duration,
        cancelled: Box<dyn Fn(String)>,
        release: Box<dyn Fn()>,
    ) -> Rc<Self> {
        let this = Rc::new(Self {
            app: app.clone(),
            windows: RefCell::default(),
            idle,
            idle_timer: RefCell::default(),
            cancelled,
            release,
            draining: Cell::new(false),
            finished: RefCell::default(),
            hold: RefCell::new(Some(app.hold())),
        });
        crate::dialog::widgets::load_css();
        this.arm_idle();
        this
    }

    fn arm_idle(self: &Rc<Self>) {
        if let Some(t) = self.idle_timer.borrow_mut().take() {
            t.remove();
        }
        if !self.windows.borrow().is_empty() {
            return;
        }
        let weak = Rc::downgrade(self);
        let wait = if self.draining.get() {
            DRAIN
        } else {
            self.idle
        };
        let id = glib::timeout_add_local_once(wait, move || {
            if let Some(p) = weak.upgrade() {
                p.idle_timer.borrow_mut().take();
                if !p.windows.borrow().is_empty() {
                    return;
                }
                if p.draining.get() {
                    tracing::info!("idle: exiting");
                    p.hold.borrow_mut().take();
                    p.app.quit();
                } else {
                    // Give the name up first, so latchkeyd's next call starts a new prompt,
                    // then serve for a moment what was already sent to this one.
                    (p.release)();
                    p.draining.set(true);
                    p.arm_idle();
                }
            }
        });
        *self.idle_timer.borrow_mut() = Some(id);
    }

    fn window_for(
        self: &Rc<Self>,
        id: &str,
        parent: Option<&crate::protocol::ParentWindow>,
    ) -> Option<Rc<RequestWindow>> {
        if let Some(w) = self.windows.borrow().get(id) {
            return Some(w.clone());
        }
        if self.windows.borrow().len() >= MAX_WINDOWS {
            tracing::warn!("too many prompt windows open; refusing another");
            return None;
        }
        let weak = Rc::downgrade(self);
        let events: Rc<dyn Fn(Event)> = Rc::new(move |e| {
            if let Some(p) = weak.upgrade() {
                p.event(e);
            }
        });
        let w = RequestWindow::new(&self.app, id.to_owned(), parent, events);
        self.windows.borrow_mut().insert(id.to_owned(), w.clone());
        if let Some(t) = self.idle_timer.borrow_mut().take() {
            t.remove();
        }
        Some(w)
    }

    fn event(self: &Rc<Self>, e: Event) {
        match e {
            Event::Closed(id) => {
                self.windows.borrow_mut().remove(&id);
                self.remember_finished(id);
                self.arm_idle();
            }
            Event::Cancelled(id) => (self.cancelled)(id),
        }
    }

    fn remember_finished(&self, id: String) {
        let mut f = self.finished.borrow_mut();
        if f.len() >= 64 {
            f.pop_front();
        }
        f.push_back(id);
    }

    /// Handles one request from the bus.
    pub fn handle(self: &Rc<Self>, request: UiRequest) {
        match request {
            UiRequest::Consent { id, consent, reply } => {
                if let Some(w) = self.window_for(&id, consent.parent_window.as_ref()) {
                    w.consent(&consent, reply);
                }
            }
            UiRequest::Pin {
                id,
                request,
                sinks,
                reply,
            } => {
                if let Some(w) = self.window_for(&id, request.parent_window.as_ref()) {
                    w.pin(&request, sinks, reply);
                }
            }
            UiRequest::Accounts {
                id,
                accounts,
                reply,
            } => {
                if let Some(w) = self.window_for(&id, None) {
                    w.accounts(&accounts, reply);
                }
            }
            UiRequest::Choose {
                id,
                kind,
                rp_id,
                choices,
                reply,
            } => {
                if let Some(w) = self.window_for(&id, None) {
                    w.choose(&choices, kind, rp_id, reply);
                }
            }
            UiRequest::Status { id, status } => {
                if self.finished.borrow().contains(&id) {
                    return;
                }
                if let Some(w) = self.window_for(&id, None) {
                    w.status(&status);
                }
            }
            UiRequest::Dismiss { id } => {
                let w = self.windows.borrow().get(&id).cloned();
                if let Some(w) = w {
                    w.dismiss();
                }
            }
        }
    }
}
