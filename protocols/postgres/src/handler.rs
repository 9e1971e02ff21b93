//! pgwire's handler traits for one connection: simple and extended query, COPY, startup.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{Sink, SinkExt, stream};
use pgwire::api::DEFAULT_NAME;
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{
    ExtendedQueryHandler, SimpleQueryHandler, send_execution_response, send_query_response,
    send_ready_for_query,
};
use pgwire::api::results::{
    CopyResponse, DescribePortalResponse, DescribeStatementResponse, FieldFormat, FieldInfo,
    QueryResponse, Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{
    ClientInfo, ClientPortalStore, PgWireConnectionState, PgWireServerHandlers, Type,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use pgwire::messages::data::{NoData, ParameterDescription, RowDescription};
use pgwire::messages::extendedquery::Sync as SyncMessage;
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Describe, Execute, TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::{
    EmptyQueryResponse, NotificationResponse, ReadyForQuery, TransactionStatus,
};
use pgwire::messages::simplequery::Query as QueryMessage;
use tokio::sync::{Mutex, MutexGuard};

use dotdo_backend::Value;
use dotdo_sql::split::split_statements;
use dotdo_sql::{PgType, Plan, SqlError, code, types};

use crate::Server;
use crate::auth::Startup;
use crate::encode::{Field, data_row, field_info};
use crate::notify::Inbox;
use crate::session::{Outcome, Session};
use crate::simple::SimpleCache;

pub struct Handlers {
    conn: Arc<Conn>,
    startup: Arc<Startup>,
}

impl Handlers {
    pub fn new(server: Arc<Server>, peer: SocketAddr) -> Self {
        let startup = Arc::new(Startup::for_peer(&server.config, peer, server.pids.clone()));
        Self {
            conn: Arc::new(Conn {
                server,
                session: Mutex::new(None),
                parser: Arc::new(StatementParser),
                inbox: Arc::default(),
                simple: parking_lot::Mutex::default(),
            }),
            startup,
        }
    }

    /// The handlers the connection loop dispatches to.
    pub fn parts(&self) -> (Arc<Startup>, Arc<Conn>, Arc<crate::cancel::Cancels>) {
        (
            self.startup.clone(),
            self.conn.clone(),
            self.conn.server.cancels.clone(),
        )
    }

    /// The connection's incoming notifications.
    pub fn inbox(&self) -> Arc<Inbox> {
        self.conn.inbox.clone()
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.conn.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.conn.clone()
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        self.startup.clone()
    }

    fn copy_handler(&self) -> Arc<impl CopyHandler> {
        self.conn.clone()
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.conn.server.cancels.clone()
    }
}

impl Drop for Handlers {
    fn drop(&mut self) {
        // Roll back an open transaction so the object's writer is freed promptly.
        let conn = self.conn.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Some(s) = conn.session.lock().await.as_mut() {
                    s.close().await;
                }
            });
        }
    }
}

/// One connection's state behind pgwire's handlers.
pub struct Conn {
    server: Arc<Server>,
    session: Mutex<Option<Session>>,
    parser: Arc<StatementParser>,
    inbox: Arc<Inbox>,
    /// Translations of simple-protocol statements, by shape.
    simple: parking_lot::Mutex<SimpleCache>,
}

/// A translation, and the catalog generation and `search_path` it was made against.
type CachedPlan = (u64, String, Arc<Plan>);

/// A prepared statement: its text; translation happens against the session's catalog.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub sql: String,
    /// The translation and the catalog generation it was made against.
    cache: Arc<parking_lot::Mutex<Option<CachedPlan>>>,
}

pub struct StatementParser;

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if split_statements(sql).len() > 1 {
            return Err(user_error(SqlError::syntax(
                "cannot insert multiple commands into a prepared statement",
            )));
        }
        Ok(Some(Prepared {
            sql: sql.to_owned(),
            cache: Arc::default(),
        }))
    }

    fn get_parameter_types(&self, _stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(Vec::new())
    }

    fn get_result_schema(
        &self,
        _stmt: &Prepared,
        _format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        Ok(Vec::new())
    }
}

fn controls_transactions(sql: &str) -> bool {
    let words = dotdo_sql::split::leading_words(sql, 2);
    let first = words.first().map(String::as_str).unwrap_or("");
    let second = words.get(1).map(String::as_str).unwrap_or("");
    matches!(
        first,
        "BEGIN"
            | "START"
            | "COMMIT"
            | "END"
            | "ROLLBACK"
            | "ABORT"
            | "SAVEPOINT"
            | "RELEASE"
            | "COPY"
            | "VACUUM"
    ) || (matches!(first, "CREATE" | "DROP") && second == "DATABASE")
}

fn error_info(e: SqlError) -> ErrorInfo {
    let mut info = ErrorInfo::new("ERROR".to_owned(), e.code.to_owned(), e.message);
    info.detail = e.detail;
    info
}

pub fn user_error(e: SqlError) -> PgWireError {
    let mut info = ErrorInfo::new("ERROR".to_owned(), e.code.to_owned(), e.message);
    info.detail = e.detail;
    PgWireError::UserError(Box::new(info))
}

fn pg_type(t: PgType) -> Type {
    Type::from_oid(t.oid()).unwrap_or(Type::TEXT)
}

impl Conn {
    async fn session<C: ClientInfo>(&self, client: &C) -> MutexGuard<'_, Option<Session>> {
        let mut guard = self.session.lock().await;
        if guard.is_none() {
            let meta = client.metadata();
            let user = meta
                .get("user")
                .cloned()
                .unwrap_or_else(|| "postgres".into());
            let db = meta
                .get("database")
                .cloned()
                .unwrap_or_else(|| user.clone());
            let (pid, key) = client.pid_and_secret_key();
            let cancel = self.server.cancels.register(pid, &key);
            let mut session = Session::new(
                self.server.clone(),
                &db,
                &user,
                pid,
                self.inbox.clone(),
                cancel,
            );
            session.startup_settings(
                meta.get("search_path").map(String::as_str),
                meta.get("options").map(String::as_str),
            );
            *guard = Some(session);
        }
        guard
    }

    /// Translate a simple-protocol statement against the current catalog: the plan and the
    /// literals it takes as parameters (see `simple`).
    async fn plan(
        &self,
        session: &mut Session,
        sql: &str,
    ) -> Result<(Arc<Plan>, Vec<Value>), SqlError> {
        let (generation, catalog) = session.catalog().await?;
        self.simple.lock().plan(session, sql, generation, &catalog)
    }

    /// A prepared statement's plan, translated again only when the catalog changed.
    async fn prepared_plan(session: &mut Session, stmt: &Prepared) -> Result<Arc<Plan>, SqlError> {
        let (generation, catalog) = session.catalog().await?;
        if let Some((g, path, plan)) = stmt.cache.lock().as_ref()
            && *g == generation
            && path == session.search_path()
        {
            return Ok(plan.clone());
        }
        let plan = Arc::new(session.translate(&stmt.sql, &catalog)?);
        *stmt.cache.lock() = Some((generation, session.search_path().to_owned(), plan.clone()));
        Ok(plan)
    }
}

fn rows_response(fields: Vec<Field>, rows: Vec<Vec<Value>>, tag: &str) -> PgWireResult<Response> {
    let infos = Arc::new(fields.iter().map(field_info).collect::<Vec<_>>());
    let encoded: Vec<PgWireResult<_>> = rows
        .iter()
        .map(|r| data_row(&fields, r).map_err(user_error))
        .collect();
    let mut resp = QueryResponse::new(infos, stream::iter(encoded));
    resp.set_command_tag(tag);
    Ok(Response::Query(resp))
}

fn to_response(outcome: Outcome, format: &Format) -> PgWireResult<Response> {
    Ok(match outcome {
        Outcome::Rows { fields, rows, tag } => {
            let fields = fields
                .into_iter()
                .enumerate()
                .map(|(i, (name, ty))| Field {
                    name,
                    ty,
                    format: format.format_for(i),
                })
                .collect();
            return rows_response(fields, rows, &tag);
        }
        Outcome::Command(tag) => Response::Execution(Tag::new(&tag)),
        Outcome::Begin => Response::TransactionStart(Tag::new("BEGIN")),
        Outcome::End(tag) => Response::TransactionEnd(Tag::new(tag)),
        Outcome::CopyIn { columns } => {
            Response::CopyIn(CopyResponse::new(0, columns, stream::empty()))
        }
        Outcome::CopyOut { lines, columns } => {
            let data: Vec<PgWireResult<CopyData>> = lines
                .into_iter()
                .map(|l| Ok(CopyData::new(Bytes::from(l))))
                .collect();
            Response::CopyOut(CopyResponse::new(0, columns, stream::iter(data)))
        }
    })
}

#[async_trait]
impl SimpleQueryHandler for Conn {
    async fn on_query<C>(&self, client: &mut C, query: QueryMessage) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let statements = split_statements(&query.query);
        let mut guard = self.session(client).await;
        let Some(session) = guard.as_mut() else {
            return Err(PgWireError::NotReadyForQuery);
        };
        if statements.is_empty() {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await?;
        }
        // Several statements in one Query run as one implicit transaction, as in PostgreSQL,
        // unless they manage transactions themselves.
        let implicit = statements.len() > 1
            && !session.in_block()
            && statements.iter().all(|s| !controls_transactions(s));
        if implicit {
            session.begin_implicit();
        }
        let mut failed = false;
        for sql in statements {
            let outcome = match self.plan(session, sql).await {
                Ok((plan, params)) => session.run(&plan, params, false).await,
                Err(e) => {
                    session.fail_block();
                    Err(e)
                }
            };
            match outcome {
                Err(e) => {
                    let info: ErrorInfo = match user_error(e) {
                        PgWireError::UserError(i) => *i,
                        _ => ErrorInfo::new(
                            "ERROR".into(),
                            code::INTERNAL_ERROR.into(),
                            "error".into(),
                        ),
                    };
                    client
                        .feed(PgWireBackendMessage::ErrorResponse(info.into()))
                        .await?;
                    failed = true;
                    break;
                }
                Ok(outcome) => match to_response(outcome, &Format::UnifiedText)? {
                    Response::Query(r) => send_query_response(client, r, true).await?,
                    Response::Execution(tag)
                    | Response::TransactionStart(tag)
                    | Response::TransactionEnd(tag) => send_execution_response(client, tag).await?,
                    Response::CopyIn(r) => {
                        pgwire::api::copy::send_copy_in_response(client, r).await?;
                        client.set_state(PgWireConnectionState::CopyInProgress(false));
                        client.set_transaction_status(session.status());
                        return Ok(());
                    }
                    Response::CopyOut(r) => {
                        pgwire::api::copy::send_copy_out_response(client, r).await?
                    }
                    _ => {}
                },
            }
        }
        if implicit && let Err(e) = session.end_implicit(!failed).await {
            client
                .feed(PgWireBackendMessage::ErrorResponse(error_info(e).into()))
                .await?;
        }
        let status = session.status();
        client.set_state(PgWireConnectionState::ReadyForQuery);
        client.set_transaction_status(status);
        send_notifications(client, &self.inbox, status).await?;
        send_ready_for_query(client, status).await?;
        Ok(())
    }

    async fn do_query<C>(&self, _client: &mut C, _query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // `on_query` above handles simple queries itself.
        Ok(Vec::new())
    }
}

fn decode_params(portal: &Portal<Prepared>, inferred: &[PgType]) -> Result<Vec<Value>, SqlError> {
    let declared = &portal.statement.parameter_types;
    portal
        .parameters
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let ty = declared
                .get(i)
                .and_then(|t| t.as_ref())
                .and_then(|t| PgType::from_oid(t.oid()))
                .or_else(|| inferred.get(i).copied())
                .unwrap_or(PgType::Text);
            match p {
                None => Ok(Value::Null),
                Some(bytes) if portal.parameter_format.is_binary(i) => {
                    types::from_binary(ty, bytes)
                }
                Some(bytes) => {
                    let s = std::str::from_utf8(bytes).map_err(|_| {
                        SqlError::new("22021", "invalid byte sequence for encoding \"UTF8\"")
                    })?;
                    types::from_text(ty, s)
                }
            }
        })
        .collect()
}

fn param_types(plan: &Plan) -> Vec<PgType> {
    match plan {
        Plan::Query(q) => q.params.clone(),
        Plan::Distributed(d) => d.local.params.clone(),
        other => dotdo_sql::notify::param_types(other),
    }
}

/// Notifications that arrived for this connection, sent before ReadyForQuery as PostgreSQL
/// does when a command ends outside a transaction block (inside one they wait for its end).
async fn send_notifications<C>(
    client: &mut C,
    inbox: &Inbox,
    status: TransactionStatus,
) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    if status != TransactionStatus::Idle {
        return Ok(());
    }
    for n in inbox.drain() {
        client
            .feed(PgWireBackendMessage::NotificationResponse(
                NotificationResponse::new(n.pid, n.channel, n.payload),
            ))
            .await?;
    }
    Ok(())
}

impl Conn {
    /// Execute a portal to completion, buffering every message until Sync flushes.
    async fn execute_all<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        let portal_name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let portal = match client.portal_store().get_portal(portal_name) {
            Some(Entry::Value(portal)) => portal,
            Some(Entry::Empty) => {
                client
                    .feed(PgWireBackendMessage::EmptyQueryResponse(
                        EmptyQueryResponse::new(),
                    ))
                    .await?;
                return Ok(());
            }
            None => return Err(PgWireError::PortalNotFound(portal_name.to_owned())),
        };
        client.set_state(PgWireConnectionState::QueryInProgress);
        let response = ExtendedQueryHandler::do_query(self, client, portal.as_ref(), 0).await;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        match response? {
            Response::Query(r) => send_query_response(client, r, false).await?,
            Response::Execution(tag)
            | Response::TransactionStart(tag)
            | Response::TransactionEnd(tag) => {
                client
                    .feed(PgWireBackendMessage::CommandComplete(tag.into()))
                    .await?;
            }
            Response::CopyIn(r) => {
                client.set_state(PgWireConnectionState::CopyInProgress(true));
                pgwire::api::copy::send_copy_in_response(client, r).await?;
            }
            Response::CopyOut(r) => pgwire::api::copy::send_copy_out_response(client, r).await?,
            Response::EmptyQuery => {
                client
                    .feed(PgWireBackendMessage::EmptyQueryResponse(
                        EmptyQueryResponse::new(),
                    ))
                    .await?;
            }
            Response::Error(e) => return Err(PgWireError::UserError(e)),
            Response::CopyBoth(_) => {}
        }
        Ok(())
    }
}

#[async_trait]
impl ExtendedQueryHandler for Conn {
    type Statement = Prepared;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<StatementParser> {
        self.parser.clone()
    }

    /// As pgwire's, but BindComplete is buffered (`feed`) until Sync flushes: one write per
    /// Bind/Execute/Sync round instead of three.
    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statement_name = message.statement_name.as_deref().unwrap_or(DEFAULT_NAME);
        match client.portal_store().get_statement(statement_name) {
            Some(Entry::Value(statement)) => {
                let portal = Portal::try_new(&message, statement)?;
                client.portal_store().put_portal(Arc::new(portal));
                client
                    .feed(PgWireBackendMessage::BindComplete(BindComplete::new()))
                    .await?;
                Ok(())
            }
            Some(Entry::Empty) if message.parameters.is_empty() => {
                let portal_name = message.portal_name.as_deref().unwrap_or(DEFAULT_NAME);
                client.portal_store().put_empty_portal(portal_name);
                client
                    .feed(PgWireBackendMessage::BindComplete(BindComplete::new()))
                    .await?;
                Ok(())
            }
            Some(Entry::Empty) => Err(user_error(SqlError::new(
                code::PROTOCOL_VIOLATION,
                "bind message supplies parameters, but the prepared statement is empty",
            ))),
            None => Err(PgWireError::StatementNotFound(statement_name.to_owned())),
        }
    }

    /// As pgwire's, but the description is buffered (`feed`) until Sync flushes, so a
    /// Bind/Describe/Execute/Sync round (libpq's `PQexecPrepared`) is answered in one write.
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let (parameters, fields) = match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => match client.portal_store().get_statement(name) {
                Some(Entry::Value(stmt)) => {
                    let r = self.do_describe_statement(client, &stmt).await?;
                    (Some(r.parameters), r.fields)
                }
                Some(Entry::Empty) => (Some(Vec::new()), Vec::new()),
                None => return Err(PgWireError::StatementNotFound(name.to_owned())),
            },
            TARGET_TYPE_BYTE_PORTAL => match client.portal_store().get_portal(name) {
                Some(Entry::Value(portal)) => {
                    (None, self.do_describe_portal(client, &portal).await?.fields)
                }
                Some(Entry::Empty) => (None, Vec::new()),
                None => return Err(PgWireError::PortalNotFound(name.to_owned())),
            },
            other => return Err(PgWireError::InvalidTargetType(other)),
        };
        if let Some(types) = parameters {
            let oids = types.iter().map(Type::oid).collect();
            client
                .feed(PgWireBackendMessage::ParameterDescription(
                    ParameterDescription::new(oids),
                ))
                .await?;
        }
        let message = if fields.is_empty() {
            PgWireBackendMessage::NoData(NoData::new())
        } else {
            PgWireBackendMessage::RowDescription(RowDescription::new(
                fields.iter().map(Into::into).collect(),
            ))
        };
        client.feed(message).await?;
        Ok(())
    }

    /// As pgwire's, with the notifications that arrived sent before ReadyForQuery.
    async fn on_sync<C>(&self, client: &mut C, _message: SyncMessage) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        client.portal_store().rm_portal(DEFAULT_NAME);
        let status = client.transaction_status();
        send_notifications(client, &self.inbox, status).await?;
        client
            .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                status,
            )))
            .await?;
        client.flush().await?;
        Ok(())
    }

    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let result = if message.max_rows == 0 {
            self.execute_all(client, message).await
        } else {
            self._on_execute(client, message).await
        };
        // The session, not pgwire's transitions, knows the block state (failed, savepoints).
        if let Some(s) = self.session.lock().await.as_ref() {
            client.set_transaction_status(s.status());
        }
        result
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut guard = self.session(client).await;
        let Some(session) = guard.as_mut() else {
            return Err(PgWireError::NotReadyForQuery);
        };
        let plan = match Self::prepared_plan(session, &portal.statement.statement).await {
            Ok(p) => p,
            Err(e) => {
                session.fail_block();
                return Err(user_error(e));
            }
        };
        let params = match decode_params(portal, &param_types(&plan)) {
            Ok(p) => p,
            Err(e) => {
                session.fail_block();
                return Err(user_error(e));
            }
        };
        // Columns the catalog cannot type were described as text: keep that promise.
        let outcome = session.run(&plan, params, true).await.map_err(user_error)?;
        to_response(outcome, &portal.result_column_format)
    }

    async fn do_describe_statement<C>(
        &self,
        client: &mut C,
        stmt: &StoredStatement<Prepared>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut guard = self.session(client).await;
        let Some(session) = guard.as_mut() else {
            return Err(PgWireError::NotReadyForQuery);
        };
        let plan = Self::prepared_plan(session, &stmt.statement)
            .await
            .map_err(user_error)?;
        let inferred = param_types(&plan);
        let params = inferred
            .iter()
            .enumerate()
            .map(|(i, t)| {
                stmt.parameter_types
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| pg_type(*t))
            })
            .collect();
        let fields = session
            .describe_fields(&plan)
            .await
            .into_iter()
            .map(|(name, ty)| {
                field_info(&Field {
                    name,
                    ty,
                    format: FieldFormat::Text,
                })
            })
            .collect();
        Ok(DescribeStatementResponse::new(params, fields))
    }

    async fn do_describe_portal<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut guard = self.session(client).await;
        let Some(session) = guard.as_mut() else {
            return Err(PgWireError::NotReadyForQuery);
        };
        let plan = Self::prepared_plan(session, &portal.statement.statement)
            .await
            .map_err(user_error)?;
        let fields = session
            .describe_fields(&plan)
            .await
            .into_iter()
            .enumerate()
            .map(|(i, (name, ty))| {
                field_info(&Field {
                    name,
                    ty,
                    format: portal.result_column_format.format_for(i),
                })
            })
            .collect();
        Ok(DescribePortalResponse::new(fields))
    }
}

#[async_trait]
impl CopyHandler for Conn {
    async fn on_copy_data<C>(&self, _client: &mut C, data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_mut() {
            s.copy_data(&data.data);
            if s.copy_wants_flush() {
                s.copy_flush().await;
            }
        }
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut guard = self.session.lock().await;
        let Some(s) = guard.as_mut() else {
            return Ok(());
        };
        let result = s.copy_done().await;
        client.set_transaction_status(s.status());
        let n = result.map_err(user_error)?;
        client
            .send(PgWireBackendMessage::CommandComplete(
                Tag::new("COPY").with_rows(n).into(),
            ))
            .await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_mut() {
            s.copy_fail().await;
            client.set_transaction_status(s.status());
        }
        user_error(SqlError::new(
            code::QUERY_CANCELED,
            format!("COPY from stdin failed: {}", fail.message),
        ))
    }
}
