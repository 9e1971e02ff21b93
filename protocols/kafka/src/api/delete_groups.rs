//! DeleteGroups: removes empty groups and their committed offsets.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use super::Ctx;
use crate::broker::Broker;
use crate::error::Result;
use crate::errors;

pub async fn handle(
    b: &Broker,
    req: DeleteGroupsRequest,
    _ctx: &Ctx,
) -> Result<DeleteGroupsResponse> {
    let existing = b
        .store
        .backend
        .list_objects(b.store.names.namespace())
        .await?;
    let mut results = Vec::with_capacity(req.groups_names.len());
    for id in req.groups_names {
        let obj = b.store.names.group(&id.0);
        let known = b.groups.get(&id.0).is_some() || existing.contains(&obj.name);
        let mut code = if known {
            b.groups.remove_if_empty(&id.0)
        } else {
            errors::GROUP_ID_NOT_FOUND
        };
        if code == errors::NONE {
            if let Err(e) = b.store.backend.delete_object(&obj).await {
                tracing::warn!(error = %e, "delete group failed");
                code = errors::KAFKA_STORAGE_ERROR;
            }
            b.store.forget(&obj);
        }
        results.push(
            DeletableGroupResult::default()
                .with_group_id(id)
                .with_error_code(code),
        );
    }
    Ok(DeleteGroupsResponse::default().with_results(results))
}
