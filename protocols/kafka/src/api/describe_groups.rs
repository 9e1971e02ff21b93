//! DescribeGroups: state, protocol and members of each group.

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::{Ctx, s};
use crate::broker::Broker;
use crate::error::Result;

pub async fn handle(
    b: &Broker,
    req: DescribeGroupsRequest,
    _ctx: &Ctx,
) -> Result<DescribeGroupsResponse> {
    let groups = req
        .groups
        .into_iter()
        .map(|id| {
            let out = DescribedGroup::default()
                .with_group_id(id.clone())
                .with_authorized_operations(i32::MIN);
            let Some(handle) = b.groups.get(&id.0) else {
                return out.with_group_state(s("Dead"));
            };
            let g = handle.group.lock();
            let members = g
                .members
                .values()
                .map(|m| {
                    DescribedGroupMember::default()
                        .with_member_id(s(m.id.clone()))
                        .with_group_instance_id(m.group_instance_id.clone().map(s))
                        .with_client_id(s(m.client_id.clone()))
                        .with_client_host(s(m.client_host.clone()))
                        .with_member_metadata(m.metadata(g.protocol.as_deref()))
                        .with_member_assignment(m.assignment.clone())
                })
                .collect();
            out.with_group_state(s(g.state.name()))
                .with_protocol_type(s(g.protocol_type.clone().unwrap_or_default()))
                .with_protocol_data(s(g.protocol.clone().unwrap_or_default()))
                .with_members(members)
        })
        .collect();
    Ok(DescribeGroupsResponse::default().with_groups(groups))
}
