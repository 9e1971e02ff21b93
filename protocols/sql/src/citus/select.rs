//! SELECT on distributed tables: pin to one shard, or fan out with a merge.

use std::ops::ControlFlow;

use sqlparser::ast::{
    self, Expr, GroupByExpr, Ident, LimitClause, OrderByKind, SelectItem, SetExpr, TableFactor,
};

use super::{
    Action, Bound, Kind, Merge, SortKey, conjuncts, derive, has_subquery, key_source, relations,
    unsupported,
};
use crate::catalog::{Catalog, Column, Table};
use crate::error::SqlError;
use crate::translate::{Context, ident_name, object_name};

/// A table in the top-level FROM.
pub(super) struct Instance {
    /// The name columns are qualified with: the alias, else the table name.
    pub alias: String,
    /// Its distribution column and shard count, when it is distributed.
    pub dist: Option<(String, crate::types::PgType, u32)>,
}

const COLOCATION: &str = "complex joins are only supported when all distributed tables are co-located and joined on their distribution columns";

pub(super) fn plan(
    q: &ast::Query,
    catalog: &Catalog,
    ctx: &Context<'_>,
) -> Result<Action, SqlError> {
    let meta = catalog.distribution();
    let SetExpr::Select(select) = q.body.as_ref() else {
        return Err(unsupported(
            "set operations (UNION, INTERSECT, EXCEPT) over distributed tables are not supported",
        ));
    };
    // Shards hold distributed and reference tables only.
    if relations(&ast::Statement::Query(Box::new(q.clone())))
        .iter()
        .any(|n| meta.get(n).is_none() && catalog.table(n).is_some())
    {
        return Err(unsupported(
            "a query cannot join a distributed table with a local table: make it a reference table with create_reference_table",
        ));
    }
    let instances = instances(&select.from, catalog);
    let dist: Vec<usize> = (0..instances.len())
        .filter(|&i| instances[i].dist.is_some())
        .collect();
    let mentioned = relations(&ast::Statement::Query(Box::new(q.clone())))
        .iter()
        .filter(|n| matches!(meta.get(n), Some(Kind::Hash { .. })))
        .count();
    if mentioned != dist.len() || dist.is_empty() {
        // Subqueries, CTEs and set operations run whole on one shard when every SELECT
        // that reads a distributed table pins it to that shard.
        return match all_pinned(q, catalog, mentioned)? {
            Some((shards, keys)) => Ok(Action::PinnedAll { shards, keys }),
            None => Err(unsupported(
                "a distributed table in a subquery, CTE or set operation is only supported when every SELECT that reads one pins its distribution column to the same shard",
            )),
        };
    }
    let shards = instances[dist[0]].dist.as_ref().map_or(1, |d| d.2);
    if dist
        .iter()
        .any(|&i| instances[i].dist.as_ref().map(|d| d.2) != Some(shards))
    {
        return Err(unsupported(COLOCATION));
    }
    check_outer_joins(&select.from, &instances)?;
    let mut equalities: Vec<&Expr> = select.selection.iter().flat_map(conjuncts).collect();
    for twj in &select.from {
        for j in &twj.joins {
            if let Some(on) = join_on(&j.join_operator) {
                equalities.extend(conjuncts(on));
            }
        }
    }
    check_colocated(&instances, &dist, &equalities)?;
    let where_conj: Vec<&Expr> = select.selection.iter().flat_map(conjuncts).collect();
    if let Some(key) = pinned_key(&instances, &where_conj) {
        return Ok(Action::Pinned { shards, key });
    }
    fan_out(q, select, catalog, ctx, shards)
}

/// Every SELECT of `q` that reads a distributed table, with the key that pins it, when each
/// is pinned and co-located and they cover all `mentioned` references; else `None`.
fn all_pinned(
    q: &ast::Query,
    catalog: &Catalog,
    mentioned: usize,
) -> Result<Option<(u32, Vec<super::Key>)>, SqlError> {
    struct Walk<'c> {
        catalog: &'c Catalog,
        keys: Vec<super::Key>,
        shards: Option<u32>,
        covered: usize,
        failed: bool,
    }
    impl Walk<'_> {
        fn select(&mut self, s: &ast::Select) {
            let instances = instances(&s.from, self.catalog);
            let dist: Vec<usize> = (0..instances.len())
                .filter(|&i| instances[i].dist.is_some())
                .collect();
            if dist.is_empty() {
                return;
            }
            self.covered += dist.len();
            for &i in &dist {
                let n = instances[i].dist.as_ref().map_or(0, |d| d.2);
                if *self.shards.get_or_insert(n) != n {
                    self.failed = true;
                }
            }
            let mut eq: Vec<&Expr> = s.selection.iter().flat_map(conjuncts).collect();
            for twj in &s.from {
                for j in &twj.joins {
                    if let Some(on) = join_on(&j.join_operator) {
                        eq.extend(conjuncts(on));
                    }
                }
            }
            let wheres: Vec<&Expr> = s.selection.iter().flat_map(conjuncts).collect();
            match (
                check_colocated(&instances, &dist, &eq),
                pinned_key(&instances, &wheres),
            ) {
                (Ok(()), Some(key)) => self.keys.push(key),
                _ => self.failed = true,
            }
        }

        fn body(&mut self, body: &SetExpr) {
            match body {
                SetExpr::Select(s) => self.select(s),
                SetExpr::SetOperation { left, right, .. } => {
                    self.body(left);
                    self.body(right);
                }
                _ => {}
            }
        }
    }
    impl ast::Visitor for Walk<'_> {
        type Break = ();
        fn pre_visit_query(&mut self, q: &ast::Query) -> ControlFlow<()> {
            self.body(&q.body);
            ControlFlow::Continue(())
        }
    }
    let mut walk = Walk {
        catalog,
        keys: Vec::new(),
        shards: None,
        covered: 0,
        failed: false,
    };
    let _ = ast::Visit::visit(q, &mut walk);
    Ok(match walk.shards {
        Some(n) if !walk.failed && walk.covered == mentioned && !walk.keys.is_empty() => {
            Some((n, walk.keys))
        }
        _ => None,
    })
}

fn join_on(op: &ast::JoinOperator) -> Option<&Expr> {
    use ast::JoinOperator as J;
    let c = match op {
        J::Join(c)
        | J::Inner(c)
        | J::Left(c)
        | J::LeftOuter(c)
        | J::Right(c)
        | J::RightOuter(c)
        | J::FullOuter(c)
        | J::CrossJoin(c)
        | J::StraightJoin(c) => c,
        _ => return None,
    };
    match c {
        ast::JoinConstraint::On(e) => Some(e),
        _ => None,
    }
}

pub(super) fn instances(from: &[ast::TableWithJoins], catalog: &Catalog) -> Vec<Instance> {
    let meta = catalog.distribution();
    let mut out = Vec::new();
    let mut add = |f: &TableFactor| {
        if let TableFactor::Table { name, alias, .. } = f {
            let table = object_name(name);
            let dist = match meta.get(&table) {
                Some(Kind::Hash { column, ty, shards }) => Some((column.clone(), *ty, *shards)),
                _ => None,
            };
            out.push(Instance {
                alias: alias
                    .as_ref()
                    .map_or_else(|| table.clone(), |a| ident_name(&a.name)),
                dist,
            });
        }
    };
    for twj in from {
        add(&twj.relation);
        for j in &twj.joins {
            add(&j.relation);
        }
    }
    out
}

/// A reference (or local) table on the preserved side of an outer join with a distributed
/// table would be repeated on every shard.
fn check_outer_joins(from: &[ast::TableWithJoins], instances: &[Instance]) -> Result<(), SqlError> {
    use ast::JoinOperator as J;
    let is_dist = |f: &TableFactor| match f {
        TableFactor::Table { name, alias, .. } => {
            let a = alias
                .as_ref()
                .map_or_else(|| object_name(name), |a| ident_name(&a.name));
            instances.iter().any(|i| i.alias == a && i.dist.is_some())
        }
        _ => false,
    };
    let refuse = || {
        Err(unsupported(
            "cannot pushdown the subquery: a reference or local table is on the outer side of an outer join with a distributed table",
        ))
    };
    for twj in from {
        let mut left_dist = is_dist(&twj.relation);
        for j in &twj.joins {
            let right_dist = is_dist(&j.relation);
            match j.join_operator {
                J::Left(_) | J::LeftOuter(_) if !left_dist && right_dist => return refuse(),
                J::Right(_) | J::RightOuter(_) if left_dist && !right_dist => return refuse(),
                J::FullOuter(_) if left_dist != right_dist => return refuse(),
                _ => {}
            }
            left_dist |= right_dist;
        }
    }
    Ok(())
}

/// The instance and column a column reference names.
fn resolve(e: &Expr, instances: &[Instance]) -> Option<(usize, String)> {
    match e {
        Expr::Nested(inner) => resolve(inner, instances),
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
            let q = ident_name(&parts[parts.len() - 2]);
            let c = ident_name(&parts[parts.len() - 1]);
            instances.iter().position(|i| i.alias == q).map(|i| (i, c))
        }
        Expr::Identifier(id) => {
            let c = ident_name(id);
            // An unqualified name belongs to the one distributed table whose column it is.
            let owners: Vec<usize> = (0..instances.len())
                .filter(|&i| instances[i].dist.as_ref().is_some_and(|d| d.0 == c))
                .collect();
            (owners.len() == 1).then(|| (owners[0], c))
        }
        _ => None,
    }
}

fn is_dist_column(e: &Expr, instances: &[Instance]) -> Option<usize> {
    let (i, c) = resolve(e, instances)?;
    instances[i].dist.as_ref().filter(|d| d.0 == c).map(|_| i)
}

fn check_colocated(
    instances: &[Instance],
    dist: &[usize],
    equalities: &[&Expr],
) -> Result<(), SqlError> {
    if dist.len() < 2 {
        return Ok(());
    }
    let mut parent: Vec<usize> = (0..instances.len()).collect();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut x = x;
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for e in equalities {
        if let Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::Eq,
            right,
        } = e
            && let (Some(a), Some(b)) = (
                is_dist_column(left, instances),
                is_dist_column(right, instances),
            )
        {
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            parent[ra] = rb;
        }
    }
    let root = find(&mut parent, dist[0]);
    if dist.iter().all(|&i| find(&mut parent, i) == root) {
        Ok(())
    } else {
        Err(unsupported(COLOCATION))
    }
}

/// The key of a `dist_column = constant-or-parameter` conjunct.
pub(super) fn pinned_key(instances: &[Instance], conj: &[&Expr]) -> Option<super::Key> {
    for e in conj {
        let Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::Eq,
            right,
        } = e
        else {
            continue;
        };
        for (col, val) in [(left, right), (right, left)] {
            if let Some(i) = is_dist_column(col, instances)
                && let Some(source) = key_source(val)
                && let Some((_, ty, _)) = &instances[i].dist
            {
                return Some(super::Key { source, ty: *ty });
            }
        }
    }
    None
}

const AGGREGATES: &[&str] = &["count", "sum", "min", "max", "avg"];
const OTHER_AGGREGATES: &[&str] = &[
    "string_agg",
    "array_agg",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "bool_and",
    "bool_or",
    "every",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "group_concat",
    "bit_and",
    "bit_or",
    "percentile_cont",
    "percentile_disc",
    "mode",
];

fn function_name(f: &ast::Function) -> String {
    f.name
        .to_string()
        .to_ascii_lowercase()
        .trim_start_matches("pg_catalog.")
        .to_owned()
}

/// Whether `items` hold an aggregate call; window functions are refused.
fn scan_aggregates<T: ast::Visit>(items: &T) -> Result<bool, SqlError> {
    let mut found = false;
    let mut err = None;
    let _ = ast::visit_expressions(items, |e| {
        if let Expr::Function(f) = e {
            if f.over.is_some() {
                err = Some(unsupported(
                    "window functions over a distributed table are only supported when the query is pinned to one shard",
                ));
                return ControlFlow::Break(());
            }
            let name = function_name(f);
            if AGGREGATES.contains(&name.as_str()) || OTHER_AGGREGATES.contains(&name.as_str()) {
                found = true;
            }
        }
        ControlFlow::Continue(())
    });
    err.map_or(Ok(found), Err)
}

fn bound(e: Option<&Expr>) -> Result<Bound, SqlError> {
    let Some(e) = e else { return Ok(Bound::None) };
    match super::key_source(e) {
        Some(super::KeySource::Const(dotdo_backend::Value::Integer(n))) => {
            Ok(Bound::Const(n.max(0) as u64))
        }
        Some(super::KeySource::Const(dotdo_backend::Value::Null)) => Ok(Bound::None),
        Some(super::KeySource::Param(i)) => Ok(Bound::Param(i)),
        _ => Err(unsupported(
            "LIMIT and OFFSET over a distributed table must be constants or parameters",
        )),
    }
}

fn limit_parts(q: &ast::Query) -> Result<(Option<&Expr>, Option<&Expr>), SqlError> {
    match &q.limit_clause {
        None => Ok((None, None)),
        Some(LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) if limit_by.is_empty() => Ok((limit.as_ref(), offset.as_ref().map(|o| &o.value))),
        Some(_) => Err(unsupported("this LIMIT form is not supported")),
    }
}

fn fan_out(
    q: &ast::Query,
    select: &ast::Select,
    catalog: &Catalog,
    ctx: &Context<'_>,
    shards: u32,
) -> Result<Action, SqlError> {
    if q.with.is_some() || q.fetch.is_some() {
        return Err(unsupported(
            "WITH and FETCH over a distributed table are only supported when the query is pinned to one shard",
        ));
    }
    let distinct = match &select.distinct {
        None | Some(ast::Distinct::All) => false,
        Some(ast::Distinct::Distinct) => true,
        Some(_) => {
            return Err(unsupported(
                "DISTINCT ON over a distributed table is only supported when the query is pinned to one shard",
            ));
        }
    };
    let order: Vec<ast::OrderByExpr> = match q.order_by.as_ref().map(|o| &o.kind) {
        None => Vec::new(),
        Some(OrderByKind::Expressions(list)) => list.clone(),
        Some(OrderByKind::All(_)) => return Err(unsupported("ORDER BY ALL is not supported")),
    };
    let grouped = match &select.group_by {
        GroupByExpr::Expressions(e, m) if m.is_empty() => !e.is_empty(),
        _ => return Err(unsupported("this GROUP BY form is not supported")),
    };
    let aggregated = scan_aggregates(&select.projection)?
        || select.having.is_some()
        || grouped
        || distinct
        || scan_aggregates(&order)?;
    let (limit, offset) = limit_parts(q)?;
    let (limit, offset) = (limit.cloned(), offset.cloned());
    if aggregated {
        return combine(q, select, &order, catalog, ctx, shards);
    }
    // Plain rows: each shard sorts and cuts at offset+limit; the merge does the rest.
    let mut shard_q = q.clone();
    let mut keys = Vec::new();
    let mut hidden = Vec::new();
    for o in &order {
        let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
        let nulls_first = o.options.nulls_first.unwrap_or(!desc);
        let ordinal = match &o.expr {
            Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => n.parse::<usize>().ok().filter(|&n| n > 0),
                _ => None,
            },
            _ => None,
        };
        let (column, is_hidden) = match ordinal {
            Some(n) => (n - 1, false),
            None => {
                hidden.push(resolve_alias(&o.expr, &select.projection));
                (hidden.len() - 1, true)
            }
        };
        keys.push(SortKey {
            column,
            desc,
            nulls_first,
            hidden: is_hidden,
        });
    }
    if let SetExpr::Select(s) = shard_q.body.as_mut() {
        for (i, e) in hidden.iter().enumerate() {
            s.projection.push(SelectItem::ExprWithAlias {
                expr: e.clone(),
                alias: Ident::new(format!("_citus_sort{i}")),
            });
        }
    }
    shard_q.limit_clause = limit.as_ref().map(|l| LimitClause::LimitOffset {
        limit: Some(match &offset {
            Some(o) => Expr::BinaryOp {
                left: Box::new(l.clone()),
                op: ast::BinaryOperator::Plus,
                right: Box::new(o.clone()),
            },
            None => l.clone(),
        }),
        offset: None,
        limit_by: Vec::new(),
    });
    let (shard, _) = derive(ast::Statement::Query(Box::new(shard_q)), catalog, ctx)?;
    Ok(Action::FanOut {
        shards,
        shard,
        merge: Merge::Rows {
            order: keys,
            hidden: hidden.len(),
            offset: bound(offset.as_ref())?,
            limit: bound(limit.as_ref())?,
        },
    })
}

/// An ORDER BY or GROUP BY name that is an output column's alias stands for its expression.
fn resolve_alias(e: &Expr, projection: &[SelectItem]) -> Expr {
    if let Expr::Identifier(id) = e {
        let name = ident_name(id);
        for item in projection {
            if let SelectItem::ExprWithAlias { expr, alias } = item
                && ident_name(alias) == name
            {
                return expr.clone();
            }
        }
    }
    e.clone()
}

fn resolve_ordinal(e: &Expr, projection: &[SelectItem]) -> Expr {
    if let Expr::Value(v) = e
        && let ast::Value::Number(n, _) = &v.value
        && let Ok(n) = n.parse::<usize>()
        && let Some(item) = n.checked_sub(1).and_then(|i| projection.get(i))
    {
        match item {
            SelectItem::UnnamedExpr(x) | SelectItem::ExprWithAlias { expr: x, .. } => {
                return x.clone();
            }
            _ => {}
        }
    }
    resolve_alias(e, projection)
}

/// Rewrites the client's expressions over the partial rows: group keys become `k<i>`,
/// aggregates their combination of partials `p<j>`, which the shard query computes.
/// Aggregates are first replaced by markers (identifiers, so the walk does not descend into
/// their combinations), which [`Unmark`] then replaces.
struct Combiner {
    keys: Vec<Expr>,
    partials: Vec<Expr>,
    combos: Vec<Expr>,
    err: Option<SqlError>,
}

const MARK: &str = "__citus_agg";

fn same_column(a: &Expr, b: &Expr) -> bool {
    let last = |e: &Expr| match e {
        Expr::Identifier(i) => Some(ident_name(i)),
        Expr::CompoundIdentifier(p) => p.last().map(ident_name),
        _ => None,
    };
    a == b || matches!((last(a), last(b)), (Some(x), Some(y)) if x == y)
}

fn ident(name: String) -> Expr {
    Expr::Identifier(Ident::new(name))
}

fn parse_expr(sql: &str) -> Result<Expr, SqlError> {
    sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| SqlError::syntax(e.to_string()))
}

impl Combiner {
    fn partial(&mut self, e: Expr) -> String {
        let i = match self.partials.iter().position(|p| *p == e) {
            Some(i) => i,
            None => {
                self.partials.push(e);
                self.partials.len() - 1
            }
        };
        format!("p{i}")
    }

    fn aggregate(&mut self, f: &ast::Function) -> Result<Expr, SqlError> {
        let name = function_name(f);
        if !AGGREGATES.contains(&name.as_str()) {
            return Err(unsupported(&format!(
                "the aggregate {name}() over a distributed table is only supported when the query is pinned to one shard"
            )));
        }
        let ast::FunctionArguments::List(list) = &f.args else {
            return Err(unsupported("this aggregate call is not supported"));
        };
        if list.duplicate_treatment.is_some()
            || !list.clauses.is_empty()
            || f.filter.is_some()
            || !f.within_group.is_empty()
            || list.args.len() != 1
        {
            return Err(unsupported(&format!(
                "{name}(DISTINCT ...), FILTER and ordered aggregates over a distributed table are only supported when the query is pinned to one shard"
            )));
        }
        let whole = Expr::Function(f.clone());
        match name.as_str() {
            "count" => {
                let p = self.partial(whole);
                parse_expr(&format!("coalesce(sum({p}), 0)"))
            }
            "sum" | "min" | "max" => {
                let p = self.partial(whole);
                parse_expr(&format!("{name}({p})"))
            }
            _ => {
                // avg: the sum and count of each shard.
                let arg = match &list.args[0] {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => e.clone(),
                    _ => return Err(unsupported("this avg() call is not supported")),
                };
                let s = self.partial(parse_expr(&format!("sum({arg})"))?);
                let c = self.partial(parse_expr(&format!("count({arg})"))?);
                parse_expr(&format!(
                    "(CAST(sum({s}) AS double precision) / nullif(sum({c}), 0))"
                ))
            }
        }
    }
}

impl ast::VisitorMut for Combiner {
    type Break = ();

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Some(i) = self.keys.iter().position(|k| same_column(k, e)) {
            *e = ident(format!("k{i}"));
            return ControlFlow::Continue(());
        }
        if let Expr::Function(f) = e {
            let name = function_name(f);
            if AGGREGATES.contains(&name.as_str()) || OTHER_AGGREGATES.contains(&name.as_str()) {
                match self.aggregate(f) {
                    Ok(x) => {
                        self.combos.push(x);
                        *e = ident(format!("{MARK}{}", self.combos.len() - 1));
                    }
                    Err(x) => {
                        self.err = Some(x);
                        return ControlFlow::Break(());
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// Puts each aggregate's combination where its marker stands.
struct Unmark<'a>(&'a [Expr]);

impl ast::VisitorMut for Unmark<'_> {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::Identifier(id) = e
            && let Some(n) = id.value.strip_prefix(MARK)
            && let Some(x) = n.parse::<usize>().ok().and_then(|n| self.0.get(n))
        {
            *e = x.clone();
        }
        ControlFlow::Continue(())
    }
}

fn combine(
    q: &ast::Query,
    select: &ast::Select,
    order: &[ast::OrderByExpr],
    catalog: &Catalog,
    ctx: &Context<'_>,
    shards: u32,
) -> Result<Action, SqlError> {
    if has_subquery(&select.projection)
        || select.having.as_ref().is_some_and(has_subquery)
        || has_subquery(&order.to_vec())
    {
        return Err(unsupported(
            "subqueries in the select list, HAVING or ORDER BY of an aggregate over a distributed table are not supported",
        ));
    }
    let mut keys: Vec<Expr> = match &select.group_by {
        GroupByExpr::Expressions(e, _) => e
            .iter()
            .map(|x| resolve_ordinal(x, &select.projection))
            .collect(),
        GroupByExpr::All(_) => Vec::new(),
    };
    // SELECT DISTINCT without aggregates: each shard's distinct rows are groups, and the
    // final query's DISTINCT removes the duplicates between shards.
    if keys.is_empty() && !scan_aggregates(&select.projection)? && select.having.is_none() {
        keys = select
            .projection
            .iter()
            .filter_map(|item| match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    Some(e.clone())
                }
                _ => None,
            })
            .collect();
    }
    let mut c = Combiner {
        keys: keys.clone(),
        partials: Vec::new(),
        combos: Vec::new(),
        err: None,
    };
    let mut projection = select.projection.clone();
    for item in &projection {
        if matches!(
            item,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        ) {
            return Err(unsupported(
                "SELECT * with GROUP BY or aggregates over a distributed table is not supported",
            ));
        }
    }
    let _ = ast::VisitMut::visit(&mut projection, &mut c);
    let mut having = select.having.clone();
    if let Some(h) = having.as_mut() {
        let _ = ast::VisitMut::visit(h, &mut c);
    }
    let mut final_order = order.to_vec();
    for o in &mut final_order {
        let _ = ast::VisitMut::visit(&mut o.expr, &mut c);
    }
    if let Some(e) = c.err.take() {
        return Err(e);
    }
    let mut unmark = Unmark(&c.combos);
    let _ = ast::VisitMut::visit(&mut projection, &mut unmark);
    if let Some(h) = having.as_mut() {
        let _ = ast::VisitMut::visit(h, &mut unmark);
    }
    for o in &mut final_order {
        let _ = ast::VisitMut::visit(&mut o.expr, &mut unmark);
    }
    // Per shard: the group keys and the partial aggregates.
    let mut shard_select = select.clone();
    shard_select.projection = keys
        .iter()
        .enumerate()
        .map(|(i, k)| SelectItem::ExprWithAlias {
            expr: k.clone(),
            alias: Ident::new(format!("k{i}")),
        })
        .chain(
            c.partials
                .iter()
                .enumerate()
                .map(|(i, p)| SelectItem::ExprWithAlias {
                    expr: p.clone(),
                    alias: Ident::new(format!("p{i}")),
                }),
        )
        .collect();
    shard_select.having = None;
    shard_select.group_by = GroupByExpr::Expressions(keys.clone(), Vec::new());
    let mut shard_q = q.clone();
    shard_q.body = Box::new(SetExpr::Select(Box::new(shard_select)));
    shard_q.order_by = None;
    shard_q.limit_clause = None;
    let (shard, shard_plan) = derive(ast::Statement::Query(Box::new(shard_q)), catalog, ctx)?;
    // The client's query over the partial rows.
    let names: Vec<String> = (0..keys.len())
        .map(|i| format!("k{i}"))
        .chain((0..c.partials.len()).map(|i| format!("p{i}")))
        .collect();
    let types = shard_plan.columns.unwrap_or_default();
    let table = Table {
        name: "_citus_partials".into(),
        columns: names
            .iter()
            .enumerate()
            .map(|(i, n)| Column {
                name: n.clone(),
                ty: types
                    .get(i)
                    .and_then(|c| c.ty)
                    .unwrap_or(crate::types::PgType::Text),
                typmod: -1,
                not_null: false,
                default: None,
            })
            .collect(),
    };
    let mut final_select = select.clone();
    final_select.projection = projection;
    final_select.from = partials_from()?;
    final_select.selection = None;
    final_select.having = having;
    final_select.group_by = GroupByExpr::Expressions(
        (0..keys.len()).map(|i| ident(format!("k{i}"))).collect(),
        Vec::new(),
    );
    let mut final_q = q.clone();
    final_q.body = Box::new(SetExpr::Select(Box::new(final_select)));
    if let Some(ob) = final_q.order_by.as_mut() {
        ob.kind = OrderByKind::Expressions(final_order);
    }
    let with_partials = catalog.with_table(table);
    let (combine, _) = derive(
        ast::Statement::Query(Box::new(final_q)),
        &with_partials,
        ctx,
    )?;
    Ok(Action::FanOut {
        shards,
        shard,
        merge: Merge::Combine { names, combine },
    })
}

/// `FROM _citus_partials`.
fn partials_from() -> Result<Vec<ast::TableWithJoins>, SqlError> {
    let parsed = sqlparser::parser::Parser::parse_sql(
        &sqlparser::dialect::PostgreSqlDialect {},
        "SELECT 1 FROM _citus_partials",
    )
    .map_err(|e| SqlError::syntax(e.to_string()))?;
    match parsed.into_iter().next() {
        Some(ast::Statement::Query(q)) => match *q.body {
            SetExpr::Select(s) => Ok(s.from),
            _ => Ok(Vec::new()),
        },
        _ => Ok(Vec::new()),
    }
}
