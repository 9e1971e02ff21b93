//! One connection's message loop: pgwire's, plus notifications sent while the client idles.
//!
//! pgwire's `process_socket` only writes in answer to a message, but PostgreSQL sends a
//! NotificationResponse as soon as it arrives when the session is idle outside a
//! transaction block, so the loop waits on the socket and on the connection's inbox.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::messages::response::{NotificationResponse, TransactionStatus};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{negotiate_tls, process_error, process_message};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::handler::{Handlers, Prepared};
use crate::notify::Inbox;

/// PostgreSQL's `authentication_timeout` default, as pgwire's.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Serve one connection until the client leaves.
pub async fn process(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    handlers: Handlers,
    inbox: Arc<Inbox>,
) -> io::Result<()> {
    // pgwire's default error handler does nothing, so there is none to call here.
    let startup_timeout = tokio::time::sleep(STARTUP_TIMEOUT);
    tokio::pin!(startup_timeout);
    let socket = tokio::select! {
        () = &mut startup_timeout => return Ok(()),
        socket = negotiate_tls::<Prepared>(stream, tls) => socket?,
    };
    // A direct TLS handshake with no TLS configured: not a client we can serve.
    let Some(mut socket) = socket else {
        return Ok(());
    };
    let (startup, conn, cancel) = handlers.parts();
    // Between commands: not inside an extended-protocol exchange (Parse … Sync), where
    // PostgreSQL would not interject a notification either.
    let mut between_commands = true;
    loop {
        let msg = match socket.state() {
            PgWireConnectionState::AwaitingStartup
            | PgWireConnectionState::AuthenticationInProgress => tokio::select! {
                () = &mut startup_timeout => None,
                msg = socket.next() => msg,
            },
            PgWireConnectionState::ReadyForQuery
                if between_commands && socket.transaction_status() == TransactionStatus::Idle =>
            {
                tokio::select! {
                    msg = socket.next() => msg,
                    () = inbox.wake.notified() => {
                        for n in inbox.drain() {
                            socket
                                .feed(PgWireBackendMessage::NotificationResponse(
                                    NotificationResponse::new(n.pid, n.channel, n.payload),
                                ))
                                .await?;
                        }
                        socket.flush().await?;
                        continue;
                    }
                }
            }
            _ => socket.next().await,
        };
        let Some(Ok(msg)) = msg else {
            break;
        };
        // Terminate closes the connection; some clients wait for the close.
        if matches!(msg, PgWireFrontendMessage::Terminate(_)) {
            break;
        }
        let extended_protocol = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => msg.is_extended_query(),
        };
        let is_cancel = matches!(msg, PgWireFrontendMessage::CancelRequest(_));
        between_commands = match &msg {
            PgWireFrontendMessage::Sync(_) | PgWireFrontendMessage::Query(_) => true,
            m => !m.is_extended_query(),
        };
        if let Err(e) = process_message(
            msg,
            &mut socket,
            startup.clone(),
            conn.clone(),
            conn.clone(),
            conn.clone(),
            cancel.clone(),
        )
        .await
        {
            let fatal = e.is_fatal();
            process_error(&mut socket, e, extended_protocol).await?;
            if fatal {
                break;
            }
        }
        if is_cancel {
            break;
        }
    }
    Ok(())
}
