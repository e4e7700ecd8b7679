//! The session-bus connection, on a tokio thread of its own: GTK owns the main thread, zbus needs
//! a runtime. The GTK side reaches the bus through the runtime's [`Handle`]: futures spawned there
//! and awaited from GLib's main loop.

use tokio::runtime::Handle;

/// A connection and the runtime it runs on.
#[derive(Clone)]
pub struct Bus {
    /// The connection.
    pub conn: zbus::Connection,
    /// The runtime serving it.
    pub handle: Handle,
}

/// Starts the bus thread and runs `connect` on it; returns once connected (or failed).
pub fn start<F, Fut>(connect: F) -> Result<Bus, zbus::Error>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<zbus::Connection, zbus::Error>>,
{
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("bus".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(zbus::Error::Failure(format!("runtime: {e}"))));
                    return;
                }
            };
            rt.block_on(async move {
                let result = connect().await.map(|conn| Bus {
                    conn,
                    handle: Handle::current(),
                });
                let conn = result.as_ref().ok().map(|b| b.conn.clone());
                let _ = ready_tx.send(result);
                if let Some(conn) = conn {
                    // Serve until the bus goes away (the session ended), then exit: a prompt
                    // nobody can reach has nothing left to do.
                    let mut messages = zbus::MessageStream::from(&conn);
                    while futures_util::StreamExt::next(&mut messages).await.is_some() {}
                    tracing::info!("the session bus closed: exiting");
                    std::process::exit(0);
                }
            });
        })
        .map_err(|e| zbus::Error::Failure(format!("thread: {e}")))?;
    ready_rx
        .recv()
        .map_err(|_| zbus::Error::Failure("the bus thread stopped".into()))?
}
