//! Relation names of a statement resolved to stored names, by qualifier or `search_path`.

use super::*;
use std::collections::HashSet;
use std::ops::ControlFlow;

use sqlparser::ast::{Ident, TableFactor, VisitMut, VisitorMut};

/// Resolves the names of one statement.
struct Resolver<'c, 'a> {
    catalog: &'c Catalog,
    ctx: &'c Context<'a>,
    path: Vec<String>,
    ctes: HashSet<String>,
    /// Stored names of other schemas this statement's table factors now name.
    qualified: HashSet<String>,
}

impl Resolver<'_, '_> {
    /// The stored name a reference to an existing relation means; `None`: leave it.
    fn reference(&self, schema: Option<&str>, name: &str) -> Result<Option<String>, SqlError> {
        match schema {
            Some(s) if SYSTEM.contains(&s) => Ok(None),
            Some("public") => Ok(Some(name.to_owned())),
            Some(s) if self.catalog.namespace(s).is_some() => Ok(Some(stored_name(s, name))),
            Some(s) => Err(missing(&format!("{s}.{name}"))),
            None if self.ctes.contains(name) => Ok(None),
            None => {
                for s in &self.path {
                    if SYSTEM.contains(&s.as_str()) {
                        continue;
                    }
                    let stored = stored_name(s, name);
                    if self.catalog.has_relation(&stored) {
                        return Ok(Some(stored));
                    }
                }
                // A public relation when public is off the path is not there; a name that
                // is already stored (`"s.t"`, from an earlier pass) is.
                let already_stored = split_stored(self.catalog, name).0 != "public";
                if self.catalog.has_relation(name) && !already_stored {
                    return Err(missing(name));
                }
                Ok(None)
            }
        }
    }

    /// The stored name a new relation `name` gets.
    fn target(&self, name: &ObjectName) -> Result<String, SqlError> {
        let (schema, name) = schema_and_name(name);
        let schema = match schema {
            Some(s) if schema_exists(self.catalog, &s) => s,
            Some(s) => return Err(no_schema(&s)),
            None => creation_schema(self.ctx, self.catalog)?,
        };
        Ok(stored_name(&schema, &name))
    }

    fn resolve_name(&mut self, name: &mut ObjectName) -> Result<(), SqlError> {
        let (schema, bare) = schema_and_name(name);
        if let Some(stored) = self.reference(schema.as_deref(), &bare)? {
            let single = name.0.len() == 1 && stored == bare;
            if !single {
                self.set_stored(name, &stored);
            }
        }
        Ok(())
    }

    fn set_stored(&mut self, name: &mut ObjectName, stored: &str) {
        let (schema, _) = split_stored(self.catalog, stored);
        let ident = if schema == "public" {
            name.0
                .last()
                .and_then(|p| p.as_ident().cloned())
                .unwrap_or_else(|| Ident::new(stored))
        } else {
            self.qualified.insert(stored.to_owned());
            Ident::with_quote('"', stored)
        };
        name.0 = vec![ObjectNamePart::Identifier(ident)];
    }

    /// A sequence or regclass name in a string literal: its stored name, quoted.
    fn literal_name(&self, text: &str) -> Result<Option<String>, SqlError> {
        let items = split_list(text, '.');
        let names: Vec<String> = items.iter().map(|i| unquote_ident(i)).collect();
        let (schema, name) = match names.as_slice() {
            [n] => (None, n.clone()),
            [.., s, n] => (Some(s.as_str()), n.clone()),
            [] => return Ok(None),
        };
        Ok(self
            .reference(schema, &name)?
            .map(|stored| quote_ident(&stored)))
    }

    fn expr(&mut self, e: &mut Expr) -> Result<(), SqlError> {
        match e {
            Expr::Function(f) => {
                let fname = f.name.to_string().to_ascii_lowercase();
                let fname = fname.trim_start_matches("pg_catalog.");
                match fname {
                    "nextval"
                    | "currval"
                    | "setval"
                    | "create_distributed_table"
                    | "create_reference_table"
                    | "undistribute_table" => {
                        if let FunctionArguments::List(l) = &mut f.args
                            && let Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a))) =
                                l.args.first_mut()
                        {
                            self.rename_literal(a)?;
                        }
                    }
                    // The answer goes in as the argument: `translate` turns the call into it.
                    // (Once: a statement resolved again keeps its first answers.)
                    "current_schema" if first_arg(f).is_none() => {
                        let v = current_schema(self.ctx, self.catalog);
                        set_args(f, vec![v.map_or(Expr::Value(Value::Null.into()), lit)]);
                    }
                    "current_schemas" if !matches!(first_arg(f), Some(Expr::Value(v)) if matches!(v.value, Value::SingleQuotedString(_))) =>
                    {
                        let implicit = !matches!(first_arg(f), Some(Expr::Value(v)) if v.value == Value::Boolean(false));
                        let v = current_schemas(self.ctx, self.catalog, implicit);
                        set_args(f, vec![lit(v)]);
                    }
                    "pg_table_is_visible" => {
                        if let Some(a) = first_arg(f) {
                            let sql = visible_sql(&a.to_string(), &self.path);
                            *e = Expr::Nested(Box::new(Expr::Identifier(Ident::new(sql))));
                        }
                    }
                    _ => {}
                }
            }
            Expr::Cast {
                expr, data_type, ..
            } if data_type
                .to_string()
                .to_ascii_lowercase()
                .ends_with("regclass") =>
            {
                self.rename_literal(expr)?;
            }
            Expr::CompoundIdentifier(idents) if idents.len() == 3 => {
                let schema = ident_name(&idents[0]);
                if schema == "public" || self.catalog.namespace(&schema).is_some() {
                    idents.remove(0);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn rename_literal(&self, e: &mut Expr) -> Result<(), SqlError> {
        match e {
            Expr::Value(v) => {
                if let Value::SingleQuotedString(s) = &v.value
                    && let Some(stored) = self.literal_name(s)?
                {
                    v.value = Value::SingleQuotedString(stored);
                }
                Ok(())
            }
            Expr::Cast { expr, .. } | Expr::Nested(expr) => self.rename_literal(expr),
            _ => Ok(()),
        }
    }
}

fn lit(s: String) -> Expr {
    Expr::Value(Value::SingleQuotedString(s).into())
}

fn first_arg(f: &ast::Function) -> Option<&Expr> {
    match &f.args {
        FunctionArguments::List(l) => match l.args.first() {
            Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))) => Some(e),
            _ => None,
        },
        _ => None,
    }
}

fn set_args(f: &mut ast::Function, args: Vec<Expr>) {
    f.args = FunctionArguments::List(ast::FunctionArgumentList {
        duplicate_treatment: None,
        args: args
            .into_iter()
            .map(|e| ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)))
            .collect(),
        clauses: Vec::new(),
    });
}

impl VisitorMut for Resolver<'_, '_> {
    type Break = SqlError;

    fn pre_visit_query(&mut self, q: &mut ast::Query) -> ControlFlow<SqlError> {
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                self.ctes.insert(ident_name(&cte.alias.name));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, name: &mut ObjectName) -> ControlFlow<SqlError> {
        match self.resolve_name(name) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }

    fn post_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<SqlError> {
        // `FROM s.t` is `FROM "s.t" AS t`, so that `t.col` still names its columns.
        if let TableFactor::Table { name, alias, .. } = tf
            && alias.is_none()
            && let [ObjectNamePart::Identifier(i)] = name.0.as_slice()
            && self.qualified.contains(&i.value)
        {
            let (_, bare) = split_stored(self.catalog, &i.value);
            *alias = Some(ast::TableAlias {
                explicit: true,
                name: Ident::with_quote('"', bare),
                columns: Vec::new(),
                at: None,
            });
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<SqlError> {
        match self.expr(e) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }
}

/// Resolve every relation `stmt` names to its stored name (see the module comment).
pub fn resolve(stmt: &mut Statement, catalog: &Catalog, ctx: &Context<'_>) -> Result<(), SqlError> {
    let mut r = Resolver {
        catalog,
        ctx,
        path: search_path(ctx, catalog),
        ctes: HashSet::new(),
        qualified: HashSet::new(),
    };
    // Names of new relations are targets, not references: set them aside for the visit.
    let placeholder = || ObjectName::from(vec![Ident::new("_pg_new_relation")]);
    let mut target = None;
    match stmt {
        Statement::CreateTable(ct) => {
            let stored = r.target(&ct.name)?;
            for c in &mut ct.columns {
                for o in &mut c.options {
                    if let ast::ColumnOption::ForeignKey(fk) = &mut o.option {
                        r.resolve_name(&mut fk.foreign_table)?;
                    }
                }
            }
            for c in &mut ct.constraints {
                if let ast::TableConstraint::ForeignKey(fk) = c {
                    r.resolve_name(&mut fk.foreign_table)?;
                }
            }
            ct.name = placeholder();
            target = Some(stored);
        }
        Statement::CreateView(cv) => {
            target = Some(r.target(&cv.name)?);
            cv.name = placeholder();
        }
        Statement::CreateSequence { name, .. } => {
            let stored = r.target(name)?;
            r.set_stored(name, &stored);
        }
        Statement::CreateIndex(ci) => {
            r.resolve_name(&mut ci.table_name)?;
            let table = ci.table_name.to_string();
            let (schema, _) = split_stored(catalog, table.trim_matches('"'));
            if let Some(n) = ci.name.as_mut() {
                let (_, bare) = schema_and_name(n);
                let stored = stored_name(&schema, &bare);
                r.set_stored(n, &stored);
            }
        }
        Statement::Drop {
            object_type,
            if_exists,
            names,
            ..
        } => {
            for n in names.iter_mut() {
                let (schema, bare) = schema_and_name(n);
                match schema.as_deref() {
                    Some(s) if !schema_exists(catalog, s) => {
                        if !*if_exists {
                            return Err(no_schema(s));
                        }
                    }
                    _ if matches!(object_type, ast::ObjectType::Schema) => {}
                    s => {
                        if let Some(stored) = r.reference(s, &bare).ok().flatten() {
                            r.set_stored(n, &stored);
                        }
                    }
                }
            }
        }
        Statement::AlterTable(at) => {
            r.resolve_name(&mut at.name)?;
            let table = at.name.to_string();
            let (schema, _) = split_stored(catalog, table.trim_matches('"'));
            for op in &mut at.operations {
                if let ast::AlterTableOperation::RenameTable { table_name } = op {
                    let (ast::RenameTableNameKind::To(n) | ast::RenameTableNameKind::As(n)) =
                        table_name;
                    let (_, bare) = schema_and_name(n);
                    let stored = stored_name(&schema, &bare);
                    r.set_stored(n, &stored);
                }
                if let ast::AlterTableOperation::AddConstraint {
                    constraint: ast::TableConstraint::ForeignKey(fk),
                    ..
                } = op
                {
                    r.resolve_name(&mut fk.foreign_table)?;
                }
            }
            // Resolved already: the visit must not resolve it twice.
            let name = std::mem::replace(&mut at.name, placeholder());
            let out = stmt.visit(&mut r);
            if let Statement::AlterTable(at) = stmt {
                at.name = name;
            }
            return out.break_value().map_or(Ok(()), Err);
        }
        Statement::Copy {
            source: ast::CopySource::Table { table_name, .. },
            ..
        } => r.resolve_name(table_name)?,
        _ => {}
    }
    if let ControlFlow::Break(e) = stmt.visit(&mut r) {
        return Err(e);
    }
    if let Some(stored) = target {
        let mut name = ObjectName::from(vec![Ident::new(stored.clone())]);
        r.set_stored(&mut name, &stored);
        match stmt {
            Statement::CreateTable(ct) => ct.name = name,
            Statement::CreateView(cv) => cv.name = name,
            _ => {}
        }
    }
    Ok(())
}

/// Names in statements parsed from their text (ALTER SEQUENCE), resolved as [`resolve`]
/// resolves parsed ones.
pub fn resolve_utility(plan: Plan, catalog: &Catalog, ctx: &Context<'_>) -> Result<Plan, SqlError> {
    let Plan::AlterSequence(mut a) = plan else {
        return Ok(plan);
    };
    let r = Resolver {
        catalog,
        ctx,
        path: search_path(ctx, catalog),
        ctes: HashSet::new(),
        qualified: HashSet::new(),
    };
    let (schema, name) = match a.name.split_once('.') {
        Some((s, n)) => (Some(s.to_owned()), n.to_owned()),
        None => (None, a.name.clone()),
    };
    a.name = match r.reference(schema.as_deref(), &name) {
        Ok(Some(stored)) => stored,
        Ok(None) => name,
        Err(_) if a.if_exists => name,
        Err(e) => return Err(e),
    };
    if let Some(new) = a.rename.take() {
        a.rename = Some(sibling(&a.name, bare(&new)));
    }
    Ok(Plan::AlterSequence(a))
}
