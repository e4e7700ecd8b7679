//! Making a dialog transient for the caller's window, as xdg-desktop-portal does with its
//! `parent_window` handles: on X11 the `WM_TRANSIENT_FOR` property of our toplevel names the
//! caller's XID (set through a second X connection with x11rb, since GTK 4 has no API for a
//! foreign parent on X11); on Wayland the handle the caller exported with xdg-foreign is imported
//! by GDK (`gdk_wayland_toplevel_set_transient_for_exported`). Without a usable handle the window
//! manager centres the dialog as any new window.

use gtk::prelude::*;

use crate::protocol::ParentWindow;

/// Arranges for `window` to be transient for `parent` once it has a surface.
pub fn attach(window: &adw::Window, parent: &ParentWindow) {
    let parent = parent.clone();
    window.connect_realize(move |w| {
        let Some(surface) = w.surface() else { return };
        match &parent {
            ParentWindow::X11(xid) => {
                if let Some(x11) = surface.downcast_ref::<gdk_x11::X11Surface>() {
                    if let Err(e) = set_x11_transient(x11.xid(), *xid) {
                        tracing::debug!(error = %e, "could not set the X11 parent window");
                    }
                }
            }
            ParentWindow::Wayland(handle) => {
                if let Some(top) = surface.downcast_ref::<gdk_wayland::WaylandToplevel>() {
                    if !top.set_transient_for_exported(handle) {
                        tracing::debug!("could not import the Wayland parent window");
                    }
                }
            }
        }
    });
}

fn set_x11_transient(
    ours: gdk_x11::XWindow,
    parent: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::xproto::{AtomEnum, PropMode};
    use x11rb::wrapper::ConnectionExt as _;
    let ours = u32::try_from(ours)?;
    let (conn, _) = x11rb::connect(None)?;
    conn.change_property32(
        PropMode::REPLACE,
        ours,
        AtomEnum::WM_TRANSIENT_FOR,
        AtomEnum::WINDOW,
        &[parent],
    )?
    .check()?;
    conn.flush()?;
    Ok(())
}
