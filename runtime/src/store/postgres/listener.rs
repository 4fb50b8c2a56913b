//! The connection that listens for new events and forgotten subjects, and raises the known
//! head and the forget epoch.

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client};

use super::backend;
use super::connection::Connector;
use crate::error::StoreError;
use crate::trace::warn;

/// How long the listener waits before reconnecting after its connection dropped.
const LISTEN_RECONNECT: Duration = Duration::from_secs(1);

/// What the listener raises, and the channel that says a subject was forgotten.
#[derive(Clone)]
pub(super) struct Heard {
    /// The highest position known to be committed.
    pub(super) head: Arc<watch::Sender<u64>>,
    /// The forget epoch, raised at each notification of a `forget` that destroyed keys.
    pub(super) forget_epoch: Arc<AtomicU64>,
    /// The channel `forget` notifies (the audit row's id as payload).
    pub(super) forgets: String,
}

/// Connects, starts a task that drives the connection and forwards notifications to
/// `heard`, and subscribes with `listen`. The connection lives while the client does; the
/// task ends with it, returning the error that ended it (if any).
pub(super) async fn open_listener(
    connector: &Connector,
    listen: &str,
    heard: &Heard,
) -> Result<(Client, JoinHandle<Option<tokio_postgres::Error>>), StoreError> {
    let (client, mut connection) = connector.connect().await?;
    let heard = heard.clone();
    let driver = tokio::spawn(async move {
        // `None` or an error ends the connection for good.
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(notification))) if notification.channel() == heard.forgets => {
                    heard.forget_epoch.fetch_add(1, Ordering::SeqCst);
                }
                Some(Ok(AsyncMessage::Notification(notification))) => match notification.payload().parse() {
                    Ok(position) => bump(&heard.head, position),
                    Err(_) => warn!(
                        store = "postgres",
                        payload = notification.payload(),
                        "a notification on the store's channel holds no position; ignored"
                    ),
                },
                Some(Ok(_)) => {}
                Some(Err(error)) => return Some(error),
                None => return None,
            }
        }
    });
    client.batch_execute(listen).await.map_err(backend)?;
    Ok((client, driver))
}

/// Keeps a listening connection up until aborted (when the store is dropped).
pub(super) async fn keep_listening(
    connector: Connector,
    listen: String,
    heard: Heard,
    mut listener: (Client, JoinHandle<Option<tokio_postgres::Error>>),
) {
    loop {
        let (client, driver) = listener;
        // Returns when the connection ends: the server restarted, the network failed.
        match driver.await {
            Ok(Some(error)) => {
                warn!(store = "postgres", error = %error, "the listening connection failed; reconnecting")
            }
            Ok(None) => warn!(store = "postgres", "the listening connection was closed; reconnecting"),
            Err(error) => warn!(store = "postgres", error = %error, "the listening task stopped; reconnecting"),
        }
        drop(client);
        // Notifications sent meanwhile are lost; waiters re-read the head periodically.
        listener = loop {
            tokio::time::sleep(LISTEN_RECONNECT).await;
            match open_listener(&connector, &listen, &heard).await {
                Ok(listener) => break listener,
                Err(error) => warn!(
                    store = "postgres",
                    error = %error,
                    retry_in = ?LISTEN_RECONNECT,
                    "the listening connection could not be reopened"
                ),
            }
        };
        // A subject may have been forgotten while no one listened: what holds decoded
        // data drops it, to be safe.
        heard.forget_epoch.fetch_add(1, Ordering::SeqCst);
    }
}

/// Raises the known head to `position` if it is higher, waking waiters.
pub(super) fn bump(head: &watch::Sender<u64>, position: u64) {
    head.send_if_modified(|known| {
        let higher = position > *known;
        if higher {
            *known = position;
        }
        higher
    });
}
