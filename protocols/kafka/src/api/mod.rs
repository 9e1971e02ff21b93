//! One file per Kafka API, and the one `match` that dispatches to them.

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_configs;
pub mod api_versions;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod sync_group;
pub mod txn_offset_commit;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;
use crate::codec::{self, Preamble};
use crate::error::{Error, Result};

/// What every handler knows about the request besides its body.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub version: i16,
    pub client_id: String,
    pub client_host: String,
}

/// A handler's outcome: a response frame, or none (Produce with acks=0).
pub type Reply = Result<Option<Bytes>>;
pub type ReplyFuture = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// A request being answered. `ordered` says whether a later request may start before this
/// one's future finishes (only Produce whose appends are already queued).
pub struct Started {
    pub reply: ReplyFuture,
    pub ordered: bool,
}

/// Versions advertised per API: `(key, min, max)`. Ranges keep to what the codec decodes,
/// and stop below topic-id-only versions (Fetch 13, Metadata 13, DeleteTopics 6).
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    // Produce's minimum is 0 because librdkafka >= 2.10 turns compression off otherwise;
    // v0–v2 (message sets before magic 2) are answered by an error.
    (ApiKey::Produce, 0, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 5),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::DescribeCluster, 0, 1),
    // Transactions in the client's forms (v4+ AddPartitionsToTxn is broker-to-broker;
    // EndTxn v5 and AddPartitionsToTxn v5 are KIP-890's per-transaction epochs).
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 3),
    (ApiKey::TxnOffsetCommit, 0, 3),
    // v0 handshakes are followed by unframed tokens; clients that matter use v1.
    (ApiKey::SaslHandshake, 1, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
];

/// Answer SaslHandshake / SaslAuthenticate, which change the connection's own state.
/// Returns the response frame and whether authentication failed (the connection closes).
pub fn sasl(
    broker: &Broker,
    session: &mut crate::sasl::Session,
    frame: Bytes,
) -> Result<(Bytes, bool)> {
    let pre = codec::preamble(&frame)?;
    let key =
        ApiKey::try_from(pre.api_key).map_err(|_| Error::Malformed("unknown api key".into()))?;
    let Some((min, max)) = supported(key) else {
        return Err(Error::Malformed(format!("unsupported api {key:?}")));
    };
    if pre.api_version < min || pre.api_version > max {
        return Err(Error::Malformed(format!(
            "{key:?} v{} is not supported",
            pre.api_version
        )));
    }
    let mut body = frame;
    codec::decode_header(key, pre.api_version, &mut body)?;
    let v = pre.api_version;
    let hv = key.response_header_version(v);
    if key == ApiKey::SaslHandshake {
        let resp = sasl_handshake::handle(session, codec::decode_body(&mut body, v)?);
        return Ok((
            codec::encode_response(pre.correlation_id, hv, &resp, v)?,
            false,
        ));
    }
    let users = &broker.config.sasl_users;
    let resp = sasl_authenticate::handle(session, users, codec::decode_body(&mut body, v)?);
    let failed = resp.error_code != 0;
    Ok((
        codec::encode_response(pre.correlation_id, hv, &resp, v)?,
        failed,
    ))
}

/// Whether a request may be served on a connection that has not authenticated.
pub fn allowed_before_auth(api_key: i16) -> bool {
    api_key == ApiKey::ApiVersions as i16
}

pub fn is_sasl(api_key: i16) -> bool {
    api_key == ApiKey::SaslHandshake as i16 || api_key == ApiKey::SaslAuthenticate as i16
}

pub fn supported(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, min, max)| (min, max))
}

/// Start answering one request frame.
///
/// `Err` means the frame cannot be answered in Kafka's protocol (unknown API, unsupported
/// version, broken header); the connection is closed, as Kafka does.
pub fn start(broker: &Arc<Broker>, frame: Bytes, client_host: &str) -> Result<Started> {
    let pre = codec::preamble(&frame)?;
    let key = ApiKey::try_from(pre.api_key)
        .map_err(|_| Error::Malformed(format!("unknown api key {}", pre.api_key)))?;
    let Some((min, max)) = supported(key) else {
        return Err(Error::Malformed(format!("unsupported api {key:?}")));
    };
    if key == ApiKey::ApiVersions && pre.api_version > max {
        return ready(api_versions::unsupported(pre.correlation_id));
    }
    if key == ApiKey::Produce && pre.api_version < 3 {
        return ready(produce::legacy(&frame, pre.api_version, pre.correlation_id));
    }
    if pre.api_version < min || pre.api_version > max {
        return Err(Error::Malformed(format!(
            "{key:?} v{} is not supported",
            pre.api_version
        )));
    }
    let mut body = frame;
    let header = codec::decode_header(key, pre.api_version, &mut body)?;
    let ctx = Ctx {
        version: pre.api_version,
        client_id: header
            .client_id
            .as_ref()
            .map(StrBytes::to_string)
            .unwrap_or_default(),
        client_host: client_host.to_owned(),
    };
    if key == ApiKey::Produce {
        return produce::start(
            broker.clone(),
            codec::decode_body(&mut body, ctx.version)?,
            ctx,
            pre,
        );
    }
    let broker = broker.clone();
    Ok(Started {
        reply: Box::pin(dispatch(broker, key, header, body, ctx, pre)),
        ordered: false,
    })
}

fn ready(frame: Bytes) -> Result<Started> {
    Ok(Started {
        reply: Box::pin(async move { Ok(Some(frame)) }),
        ordered: false,
    })
}

/// Decode the body as `$req`, run `$module::handle`, and encode its response.
macro_rules! route {
    ($module:ident, $broker:expr, $body:expr, $ctx:expr, $pre:expr, $key:expr) => {{
        let req = codec::decode_body(&mut $body, $ctx.version)?;
        let resp = $module::handle(&$broker, req, &$ctx).await?;
        codec::encode_response(
            $pre.correlation_id,
            $key.response_header_version($ctx.version),
            &resp,
            $ctx.version,
        )
    }};
}

async fn dispatch(
    broker: Arc<Broker>,
    key: ApiKey,
    _header: RequestHeader,
    mut body: Bytes,
    ctx: Ctx,
    pre: Preamble,
) -> Reply {
    let frame = match key {
        ApiKey::ApiVersions => route!(api_versions, broker, body, ctx, pre, key),
        ApiKey::Metadata => route!(metadata, broker, body, ctx, pre, key),
        ApiKey::Fetch => route!(fetch, broker, body, ctx, pre, key),
        ApiKey::ListOffsets => route!(list_offsets, broker, body, ctx, pre, key),
        ApiKey::OffsetForLeaderEpoch => {
            route!(offset_for_leader_epoch, broker, body, ctx, pre, key)
        }
        ApiKey::CreateTopics => route!(create_topics, broker, body, ctx, pre, key),
        ApiKey::DeleteTopics => route!(delete_topics, broker, body, ctx, pre, key),
        ApiKey::CreatePartitions => route!(create_partitions, broker, body, ctx, pre, key),
        ApiKey::DescribeConfigs => route!(describe_configs, broker, body, ctx, pre, key),
        ApiKey::DescribeCluster => route!(describe_cluster, broker, body, ctx, pre, key),
        ApiKey::FindCoordinator => route!(find_coordinator, broker, body, ctx, pre, key),
        ApiKey::JoinGroup => route!(join_group, broker, body, ctx, pre, key),
        ApiKey::SyncGroup => route!(sync_group, broker, body, ctx, pre, key),
        ApiKey::Heartbeat => route!(heartbeat, broker, body, ctx, pre, key),
        ApiKey::LeaveGroup => route!(leave_group, broker, body, ctx, pre, key),
        ApiKey::OffsetCommit => route!(offset_commit, broker, body, ctx, pre, key),
        ApiKey::OffsetFetch => route!(offset_fetch, broker, body, ctx, pre, key),
        ApiKey::DescribeGroups => route!(describe_groups, broker, body, ctx, pre, key),
        ApiKey::ListGroups => route!(list_groups, broker, body, ctx, pre, key),
        ApiKey::DeleteGroups => route!(delete_groups, broker, body, ctx, pre, key),
        ApiKey::DeleteRecords => route!(delete_records, broker, body, ctx, pre, key),
        ApiKey::IncrementalAlterConfigs => route!(alter_configs, broker, body, ctx, pre, key),
        ApiKey::AlterConfigs => {
            let req = codec::decode_body(&mut body, ctx.version)?;
            let resp = alter_configs::handle_legacy(&broker, req, &ctx).await?;
            codec::encode_response(
                pre.correlation_id,
                key.response_header_version(ctx.version),
                &resp,
                ctx.version,
            )
        }
        ApiKey::InitProducerId => route!(init_producer_id, broker, body, ctx, pre, key),
        ApiKey::AddPartitionsToTxn => route!(add_partitions_to_txn, broker, body, ctx, pre, key),
        ApiKey::AddOffsetsToTxn => route!(add_offsets_to_txn, broker, body, ctx, pre, key),
        ApiKey::TxnOffsetCommit => route!(txn_offset_commit, broker, body, ctx, pre, key),
        ApiKey::EndTxn => route!(end_txn, broker, body, ctx, pre, key),
        other => return Err(Error::Malformed(format!("unsupported api {other:?}"))),
    }?;
    Ok(Some(frame))
}

/// A `StrBytes` from anything string-like.
pub fn s(v: impl Into<String>) -> StrBytes {
    StrBytes::from_string(v.into())
}
