//! One window per latchkeyd request: it opens at the first step (usually `Consent`), shows each
//! later step of the same request (PIN, account, security key states) in place, and closes at
//! `Dismiss` or when the user cancels. Each step's answer goes back on the reply channel of the
//! call that asked; a cancel (the Cancel button, Escape, the close button) answers the pending
//! call with "refused", or — between calls, while a key is being touched — tells latchkeyd with
//! the `Cancelled` signal.

pub mod accounts;
pub mod choose;
pub mod consent;
pub mod parent;
pub mod pin;
pub mod status;
pub mod widgets;

use std::cell::{Cell, RefCell};
use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::rc::{Rc, Weak};

use adw::prelude::*;
use tokio::sync::oneshot;
use zeroize::Zeroizing;

use crate::protocol::{
    response, Account, Choice, Consent, Kind, ParentWindow, PinRequest, Status, StatusKind,
};
use crate::service::{ConsentAnswer, PinSinks};

/// A built page: its root, the button Enter presses, what gets the focus, and its title.
pub struct Page {
    /// The page.
    pub root: gtk::Box,
    /// The default button, if the page has one.
    pub primary: Option<gtk::Button>,
    /// The widget focused first.
    pub focus: Option<gtk::Widget>,
    /// The window title while the page shows.
    pub title: String,
}

/// What a window tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The window is gone.
    Closed(String),
    /// The user cancelled while no call was waiting for an answer.
    Cancelled(String),
}

enum Pending {
    Idle,
    Consent(oneshot::Sender<ConsentAnswer>),
    Pin(oneshot::Sender<u32>, PinSinks),
    Accounts(oneshot::Sender<(u32, u32)>),
    Choose(oneshot::Sender<(u32, String)>),
}

impl Pending {
    /// Answers whatever waits with "refused"; true if something waited.
    fn refuse(self) -> bool {
        match self {
            Pending::Idle => false,
            Pending::Consent(tx) => {
                let _ = tx.send(ConsentAnswer {
                    code: response::DENIED,
                    remember: false,
                });
                true
            }
            Pending::Pin(tx, _) => {
                let _ = tx.send(response::DENIED);
                true
            }
            Pending::Accounts(tx) => {
                let _ = tx.send((response::DENIED, 0));
                true
            }
            Pending::Choose(tx) => {
                let _ = tx.send((response::DENIED, String::new()));
                true
            }
        }
    }
}

/// The width of a page with its margins (see [`widgets::page`]).
const PAGE_WIDTH: i32 = 440;

/// The window of one request.
pub struct RequestWindow {
    me: Weak<RequestWindow>,
    id: String,
    window: adw::Window,
    body: adw::Clamp,
    pending: RefCell<Pending>,
    rp_id: RefCell<Option<String>>,
    kind: Cell<Option<Kind>>,
    closed: Cell<bool>,
    events: Rc<dyn Fn(Event)>,
}

fn write_pin(sink: OwnedFd, pin: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::from(sink);
    f.write_all(pin)
}

impl RequestWindow {
    /// A window for request `id` (not shown until its first page).
    pub fn new(
        app: &adw::Application,
        id: String,
        parent: Option<&ParentWindow>,
        events: Rc<dyn Fn(Event)>,
    ) -> Rc<Self> {
        let window = adw::Window::builder()
            .application(app)
            .title(crate::i18n::tr("Passkey"))
            .resizable(false)
            .build();
        // A close button only; the page says what the dialog is about, not the title bar.
        let header = adw::HeaderBar::builder()
            .decoration_layout(":close")
            .title_widget(&gtk::Box::new(gtk::Orientation::Horizontal, 0))
            .build();
        header.add_css_class("flat");
        // Every page is as wide as the widest the design allows (a 392-pixel page and its
        // margins): a long peer string or a large title wraps or is cut instead of widening it.
        let body = adw::Clamp::builder()
            .maximum_size(PAGE_WIDTH)
            .tightening_threshold(PAGE_WIDTH)
            .build();
        let layout = gtk::Box::new(gtk::Orientation::Vertical, 0);
        layout.append(&header);
        layout.append(&body);
        window.set_content(Some(&layout));
        if let Some(p) = parent {
            parent::attach(&window, p);
        }
        crate::trace::watch(&window, &id);
        let this = Rc::new_cyclic(|me| Self {
            me: me.clone(),
            id,
            window: window.clone(),
            body,
            pending: RefCell::new(Pending::Idle),
            rp_id: RefCell::new(None),
            kind: Cell::new(None),
            closed: Cell::new(false),
            events,
        });
        let weak = Rc::downgrade(&this);
        window.connect_close_request(move |_| {
            if let Some(w) = weak.upgrade() {
                w.user_cancel();
            }
            gtk::glib::Propagation::Proceed
        });
        let escape = gtk::ShortcutController::new();
        let weak = Rc::downgrade(&this);
        escape.add_shortcut(gtk::Shortcut::new(
            gtk::ShortcutTrigger::parse_string("Escape"),
            Some(gtk::CallbackAction::new(move |_, _| {
                if let Some(w) = weak.upgrade() {
                    w.user_cancel();
                }
                gtk::glib::Propagation::Stop
            })),
        ));
        window.add_controller(escape);
        this
    }

    /// The toplevel (for tests and the application's bookkeeping).
    pub fn window(&self) -> &adw::Window {
        &self.window
    }

    fn show(&self, page: Page) {
        if self.closed.get() {
            return;
        }
        self.window.set_title(Some(&page.title));
        self.body.set_child(Some(&page.root));
        // Size the window to the new page, which may be taller than a shorter one before it.
        self.window.set_default_size(-1, -1);
        self.window.set_default_widget(page.primary.as_ref());
        self.window.present();
        if let Some(f) = page.focus {
            f.grab_focus();
        }
    }

    fn set_pending(&self, p: Pending) {
        let old = self.pending.replace(p);
        old.refuse();
    }

    fn take_pending(&self) -> Pending {
        self.pending.replace(Pending::Idle)
    }

    fn working(&self) {
        let weak = self.weak();
        let status = Status {
            kind: StatusKind::Working,
            authenticator: String::new(),
            retries: None,
            message: String::new(),
        };
        let page = status::build(&status, move || cancel(&weak));
        // The working page keeps the size of the page it replaces: the next page follows
        // within moments, and a window that shrinks and at once grows again is left at the
        // smaller size by X11 (the grow is lost behind the shrink's configure event).
        let root = &page.root;
        let width = self.body.width() - root.margin_start() - root.margin_end();
        let height = self.body.height() - root.margin_top() - root.margin_bottom();
        if width > 0 && height > 0 {
            root.set_size_request(width, height);
            root.set_valign(gtk::Align::Center);
        }
        self.show(page);
    }

    /// A weak handle for a page's callbacks (every window lives in an `Rc`, see `new`).
    fn weak(&self) -> Weak<Self> {
        self.me.clone()
    }

    /// The user cancelled: refuse what waits (or signal latchkeyd), then close.
    pub fn user_cancel(&self) {
        if self.closed.get() {
            return;
        }
        if !self.take_pending().refuse() {
            (self.events)(Event::Cancelled(self.id.clone()));
        }
        self.close();
    }

    /// latchkeyd took the request down: refuse what waits, close, no signal.
    pub fn dismiss(&self) {
        self.take_pending().refuse();
        self.close();
    }

    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        self.window.destroy();
        (self.events)(Event::Closed(self.id.clone()));
    }
}

fn cancel(w: &Weak<RequestWindow>) {
    if let Some(w) = w.upgrade() {
        w.user_cancel();
    }
}

impl RequestWindow {
    /// Shows the consent page.
    pub fn consent(&self, c: &Consent, reply: oneshot::Sender<ConsentAnswer>) {
        *self.rp_id.borrow_mut() = Some(c.rp_id.clone());
        self.kind.set(Some(c.kind));
        self.set_pending(Pending::Consent(reply));
        let (a, b) = (self.weak(), self.weak());
        let page = consent::build(
            c,
            move |remember| {
                if let Some(w) = a.upgrade() {
                    w.answer_consent(remember);
                }
            },
            move || cancel(&b),
        );
        self.show(page);
    }

    fn answer_consent(&self, remember: bool) {
        match self.take_pending() {
            Pending::Consent(tx) => {
                let _ = tx.send(ConsentAnswer {
                    code: response::APPROVED,
                    remember,
                });
            }
            other => {
                other.refuse();
            }
        }
        self.working();
    }

    /// Shows a PIN page: entry, creation (`new_pin`) or change (two sinks).
    pub fn pin(&self, req: &PinRequest, sinks: PinSinks, reply: oneshot::Sender<u32>) {
        let change = matches!(sinks, PinSinks::Change { .. });
        self.set_pending(Pending::Pin(reply, sinks));
        let (a, b) = (self.weak(), self.weak());
        let page = if change || req.new_pin {
            pin::create_or_change(
                req,
                change,
                move |current, new| {
                    if let Some(w) = a.upgrade() {
                        w.answer_pin(&current, &new);
                    }
                },
                move || cancel(&b),
            )
        } else {
            pin::verify(
                req,
                move |p| {
                    if let Some(w) = a.upgrade() {
                        w.answer_pin(&Zeroizing::new(String::new()), &p);
                    }
                },
                move || cancel(&b),
            )
        };
        self.show(page);
    }

    /// Writes the PIN(s) into latchkeyd's pipe(s), closes them, then answers.
    fn answer_pin(&self, current: &Zeroizing<String>, new: &Zeroizing<String>) {
        let (tx, sinks) = match self.take_pending() {
            Pending::Pin(tx, sinks) => (tx, sinks),
            other => {
                other.refuse();
                return;
            }
        };
        let written = match sinks {
            PinSinks::One(fd) => write_pin(fd, new.as_bytes()),
            PinSinks::Change { current: c, new: n } => {
                write_pin(c, current.as_bytes()).and_then(|()| write_pin(n, new.as_bytes()))
            }
        };
        let code = match written {
            Ok(()) => response::APPROVED,
            Err(e) => {
                tracing::warn!(error = %e, "could not pass the PIN to latchkeyd");
                response::FAILED
            }
        };
        let _ = tx.send(code);
        self.working();
    }

    /// Shows the account list.
    pub fn accounts(&self, accounts: &[Account], reply: oneshot::Sender<(u32, u32)>) {
        self.set_pending(Pending::Accounts(reply));
        let (a, b) = (self.weak(), self.weak());
        let rp_id = self.rp_id.borrow().clone();
        let page = accounts::build(
            accounts,
            rp_id.as_deref(),
            move |index| {
                if let Some(w) = a.upgrade() {
                    match w.take_pending() {
                        Pending::Accounts(tx) => {
                            let _ = tx.send((response::APPROVED, index));
                        }
                        other => {
                            other.refuse();
                        }
                    }
                    w.working();
                }
            },
            move || cancel(&b),
        );
        self.show(page);
    }

    /// Shows where the passkey can be created or found.
    pub fn choose(
        &self,
        choices: &[Choice],
        kind: Option<Kind>,
        rp_id: Option<String>,
        reply: oneshot::Sender<(u32, String)>,
    ) {
        self.set_pending(Pending::Choose(reply));
        if let Some(r) = rp_id {
            *self.rp_id.borrow_mut() = Some(r);
        }
        let kind = kind.or(self.kind.get());
        let rp_id = self.rp_id.borrow().clone();
        let (a, b) = (self.weak(), self.weak());
        let page = choose::build(
            choices,
            kind,
            rp_id.as_deref(),
            move |id| {
                if let Some(w) = a.upgrade() {
                    match w.take_pending() {
                        Pending::Choose(tx) => {
                            let _ = tx.send((response::APPROVED, id));
                        }
                        other => {
                            other.refuse();
                        }
                    }
                    w.working();
                }
            },
            move || cancel(&b),
        );
        self.show(page);
    }

    /// Shows a security key state.
    pub fn status(&self, s: &Status) {
        let weak = self.weak();
        self.show(status::build(s, move || cancel(&weak)));
    }
}
