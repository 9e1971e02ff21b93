//! Startup: trust on loopback or SCRAM-SHA-256, and the parameter statuses clients read.

use std::collections::HashMap;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::{ScramAuth, gen_salted_password};
use pgwire::api::auth::{
    AuthSource, LoginInfo, Password, ServerParameterProvider, StartupHandler,
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, PidSecretKeyGenerator, RandomPidSecretKeyGenerator};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use crate::{Config, User};

/// The parameter statuses PostgreSQL 15 reports at startup.
pub struct Parameters;

impl ServerParameterProvider for Parameters {
    fn server_parameters<C: ClientInfo>(&self, client: &C) -> Option<HashMap<String, String>> {
        let mut p = HashMap::new();
        let mut set = |k: &str, v: &str| {
            p.insert(k.to_owned(), v.to_owned());
        };
        set("server_version", dotdo_sql::translate::SERVER_VERSION);
        set("server_encoding", "UTF8");
        set("client_encoding", "UTF8");
        set("DateStyle", "ISO, MDY");
        set("IntervalStyle", "postgres");
        set("TimeZone", "UTC");
        set("integer_datetimes", "on");
        set("standard_conforming_strings", "on");
        set("is_superuser", "on");
        set("in_hot_standby", "off");
        set("default_transaction_read_only", "off");
        set("search_path", "public");
        let user = client.metadata().get("user").cloned().unwrap_or_default();
        set("session_authorization", &user);
        let app = client
            .metadata()
            .get("application_name")
            .cloned()
            .unwrap_or_default();
        set("application_name", &app);
        Some(p)
    }
}

/// Trust (no password) for loopback peers, SCRAM-SHA-256 otherwise.
pub enum Startup {
    Trust(Arc<RandomPidSecretKeyGenerator>),
    Scram(Box<SASLAuthStartupHandler<Parameters>>),
}

impl Startup {
    pub fn for_peer(
        config: &Config,
        peer: SocketAddr,
        pids: Arc<RandomPidSecretKeyGenerator>,
    ) -> Startup {
        let trusted = config.users.is_empty() || (config.trust_loopback && peer.ip().is_loopback());
        if trusted {
            return Startup::Trust(pids);
        }
        let mut scram = ScramAuth::new(Arc::new(Users {
            users: config.users.clone(),
            iterations: config.scram_iterations,
        }));
        scram.set_iterations(config.scram_iterations);
        Startup::Scram(Box::new(
            SASLAuthStartupHandler::new(Arc::new(Parameters))
                .with_scram(scram)
                .with_pid_secret_key_generator(pids),
        ))
    }
}

#[derive(Debug)]
struct Users {
    users: Vec<User>,
    iterations: usize,
}

#[async_trait]
impl AuthSource for Users {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let name = login.user().unwrap_or_default();
        let user = self.users.iter().find(|u| u.name == name).ok_or_else(|| {
            PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".into(),
                "28P01".into(),
                format!("password authentication failed for user \"{name}\""),
            )))
        })?;
        // The salt is derived from the user name so the verifier is stable per user.
        let salt: Vec<u8> = format!("dotdo:{}", user.name).into_bytes();
        let salted = gen_salted_password(&user.password, &salt, self.iterations);
        Ok(Password::new(Some(salt), salted))
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            Startup::Scram(h) => h.on_startup(client, message).await,
            Startup::Trust(pids) => {
                if let PgWireFrontendMessage::Startup(ref startup) = message {
                    protocol_negotiation(client, startup).await?;
                    save_startup_parameters_to_metadata(client, startup);
                    let (pid, key) = pids.generate(client);
                    client.set_pid_and_secret_key(pid, key);
                    finish_authentication(client, &Parameters).await?;
                }
                Ok(())
            }
        }
    }
}
