//! The connection that listens for new events and raises the known head.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

/// How long the listener waits before reconnecting after its connection dropped.
const LISTEN_RECONNECT: Duration = Duration::from_secs(1);

/// Connects, starts a task that drives the connection and forwards notifications to
/// `head`, and subscribes with `listen`. The connection lives while the client does.
pub(super) async fn open_listener(
    config: &Config,
    listen: &str,
    head: &Arc<watch::Sender<u64>>,
) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let head = head.clone();
    let driver = tokio::spawn(async move {
        // `None` or an error ends the connection for good.
        while let Some(Ok(message)) = poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(notification) = message
                && let Ok(position) = notification.payload().parse()
            {
                bump(&head, position);
            }
        }
    });
    client.batch_execute(listen).await?;
    Ok((client, driver))
}

/// Keeps a listening connection up until aborted (when the store is dropped).
pub(super) async fn keep_listening(
    config: Config,
    listen: String,
    head: Arc<watch::Sender<u64>>,
    mut listener: (Client, JoinHandle<()>),
) {
    loop {
        let (client, driver) = listener;
        // Returns when the connection ends: the server restarted, the network failed.
        let _ = driver.await;
        drop(client);
        // Notifications sent meanwhile are lost; waiters re-read the head periodically.
        listener = loop {
            tokio::time::sleep(LISTEN_RECONNECT).await;
            if let Ok(listener) = open_listener(&config, &listen, &head).await {
                break listener;
            }
        };
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
