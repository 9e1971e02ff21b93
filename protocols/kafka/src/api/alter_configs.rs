//! AlterConfigs and IncrementalAlterConfigs for topics: `retention.ms` and
//! `retention.bytes` (the settings this broker applies). Other names are refused with
//! INVALID_CONFIG; broker settings come from dotdo's config file and are read-only here.

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse as LegacyResult;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse as IncrementalResult;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};

use super::{Ctx, s};
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;

const TOPIC: i8 = 2;
const SET: i8 = 0;
const DELETE: i8 = 1;

/// One requested change: `(name, operation, value)`.
type Change = (String, i8, Option<String>);

pub async fn handle(
    b: &Broker,
    req: IncrementalAlterConfigsRequest,
    _ctx: &Ctx,
) -> Result<IncrementalAlterConfigsResponse> {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let changes = r
            .configs
            .iter()
            .map(|c| {
                let value = c.value.as_ref().map(|v| v.to_string());
                (c.name.to_string(), c.config_operation, value)
            })
            .collect();
        let (code, message) = apply(
            b,
            r.resource_type,
            &r.resource_name,
            changes,
            false,
            req.validate_only,
        )
        .await?;
        responses.push(
            IncrementalResult::default()
                .with_error_code(code)
                .with_error_message(message.map(s))
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name),
        );
    }
    Ok(IncrementalAlterConfigsResponse::default().with_responses(responses))
}

/// AlterConfigs replaces a topic's whole configuration: names left out return to defaults.
pub async fn handle_legacy(
    b: &Broker,
    req: AlterConfigsRequest,
    _ctx: &Ctx,
) -> Result<AlterConfigsResponse> {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let changes = r
            .configs
            .iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    SET,
                    c.value.as_ref().map(|v| v.to_string()),
                )
            })
            .collect();
        let (code, message) = apply(
            b,
            r.resource_type,
            &r.resource_name,
            changes,
            true,
            req.validate_only,
        )
        .await?;
        responses.push(
            LegacyResult::default()
                .with_error_code(code)
                .with_error_message(message.map(s))
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name),
        );
    }
    Ok(AlterConfigsResponse::default().with_responses(responses))
}

async fn apply(
    b: &Broker,
    resource_type: i8,
    name: &str,
    changes: Vec<Change>,
    replace_all: bool,
    validate_only: bool,
) -> Result<(i16, Option<String>)> {
    b.ensure_loaded().await?;
    if resource_type != TOPIC {
        return Ok((
            errors::INVALID_REQUEST,
            Some("only topic configs can be altered; broker settings live in dotdo.toml".into()),
        ));
    }
    let Some(topic) = b.topic(name) else {
        return Ok((errors::UNKNOWN_TOPIC_OR_PARTITION, None));
    };
    let (mut ms, mut bytes) = if replace_all {
        (b.config.retention_ms, b.config.retention_bytes)
    } else {
        (topic.retention_ms, topic.retention_bytes)
    };
    for (key, op, value) in changes {
        let (slot, default) = match key.as_str() {
            "retention.ms" => (&mut ms, b.config.retention_ms),
            "retention.bytes" => (&mut bytes, b.config.retention_bytes),
            other => {
                return Ok((
                    errors::INVALID_CONFIG,
                    Some(format!("{other} cannot be altered on this broker")),
                ));
            }
        };
        *slot = match (op, value.as_deref().map(str::parse::<i64>)) {
            (SET, Some(Ok(v))) if v >= -1 => v,
            (DELETE, _) => default,
            _ => {
                return Ok((
                    errors::INVALID_CONFIG,
                    Some(format!("invalid value or operation for {key}")),
                ));
            }
        };
    }
    if !validate_only {
        b.set_retention(name, ms, bytes).await?;
    }
    Ok((errors::NONE, None))
}
