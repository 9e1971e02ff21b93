//! ListGroups: groups with members, and groups that only have committed offsets.

use std::collections::BTreeMap;

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::{Ctx, s};
use crate::broker::Broker;
use crate::error::Result;
use crate::store::Names;

pub async fn handle(b: &Broker, req: ListGroupsRequest, _ctx: &Ctx) -> Result<ListGroupsResponse> {
    let mut groups: BTreeMap<String, (String, String)> = BTreeMap::new();
    for name in b
        .store
        .backend
        .list_objects(b.store.names.namespace())
        .await?
    {
        if let Some(id) = Names::group_of(&name) {
            groups.insert(id.to_owned(), ("Empty".into(), "consumer".into()));
        }
    }
    for (id, state, protocol_type) in b.groups.list() {
        groups.insert(
            id,
            (
                state.name().into(),
                protocol_type.unwrap_or_else(|| "consumer".into()),
            ),
        );
    }
    let states: Vec<String> = req.states_filter.iter().map(|s| s.to_string()).collect();
    let listed = groups
        .into_iter()
        .filter(|(_, (state, _))| {
            states.is_empty() || states.iter().any(|f| f.eq_ignore_ascii_case(state))
        })
        .map(|(id, (state, protocol_type))| {
            ListedGroup::default()
                .with_group_id(GroupId(s(id)))
                .with_protocol_type(s(protocol_type))
                .with_group_state(s(state))
                .with_group_type(s("classic"))
        })
        .collect();
    Ok(ListGroupsResponse::default().with_groups(listed))
}
