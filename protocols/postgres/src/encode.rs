//! Result rows in PostgreSQL's text and binary formats.

use bytes::{BufMut, BytesMut};
use dotdo_backend::Value;
use dotdo_sql::{PgType, SqlError, types};
use pgwire::api::Type;
use pgwire::api::results::{FieldFormat, FieldInfo};
use pgwire::messages::data::DataRow;

/// A result column as sent: name, type, format.
#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub ty: PgType,
    pub format: FieldFormat,
}

pub fn field_info(f: &Field) -> FieldInfo {
    let ty = Type::from_oid(f.ty.oid()).unwrap_or(Type::TEXT);
    FieldInfo::new(f.name.clone(), None, None, ty, f.format).with_type_size(f.ty.type_size())
}

pub fn data_row(fields: &[Field], row: &[Value]) -> Result<DataRow, SqlError> {
    let mut data = BytesMut::with_capacity(row.len() * 8);
    for (f, v) in fields.iter().zip(row) {
        let bytes = match f.format {
            FieldFormat::Text => types::to_text(f.ty, v).map(String::into_bytes),
            FieldFormat::Binary => types::to_binary(f.ty, v)?,
        };
        match bytes {
            None => data.put_i32(-1),
            Some(b) => {
                data.put_i32(b.len() as i32);
                data.put_slice(&b);
            }
        }
    }
    Ok(DataRow::new(data, fields.len() as i16))
}
