//! COPY's text and CSV formats: splitting input into rows and writing rows out.

use dotdo_backend::Value;
use dotdo_sql::{CopyFormat, CopyOptions, PgType, SqlError, code, types};

/// Split complete lines off `buf`, leaving a trailing partial line (or CSV record) in place.
pub fn take_lines(buf: &mut Vec<u8>, csv: bool, quote: u8) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    for i in 0..buf.len() {
        let b = buf[i];
        if csv && b == quote {
            in_quotes = !in_quotes;
        } else if b == b'\n' && !in_quotes {
            let mut line = buf[start..i].to_vec();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            lines.push(line);
            start = i + 1;
        }
    }
    buf.drain(..start);
    lines
}

fn bad(msg: impl Into<String>) -> SqlError {
    SqlError::new(code::BAD_COPY_FORMAT, msg)
}

/// One input line as values for `columns`, or `None` for the end-of-data marker `\.`.
pub fn parse_line(
    line: &[u8],
    columns: &[(String, PgType)],
    opts: &CopyOptions,
) -> Result<Option<Vec<Value>>, SqlError> {
    if line == b"\\." {
        return Ok(None);
    }
    let text = std::str::from_utf8(line)
        .map_err(|_| bad("invalid byte sequence for encoding \"UTF8\""))?;
    let fields = match opts.format {
        CopyFormat::Text => split_text(text, opts.delimiter)?,
        CopyFormat::Csv => split_csv(text, opts.delimiter, opts.quote, &opts.null),
    };
    if fields.len() != columns.len() {
        return Err(bad(if fields.len() < columns.len() {
            format!("missing data for column \"{}\"", columns[fields.len()].0)
        } else {
            "extra data after last expected column".to_owned()
        }));
    }
    fields
        .into_iter()
        .zip(columns)
        .map(|(f, (_, ty))| match f {
            None => Ok(Value::Null),
            Some(s) if opts.format == CopyFormat::Text && s == opts.null => Ok(Value::Null),
            Some(s) => types::from_text(*ty, &s),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Text format: fields split on the delimiter, backslash escapes decoded. `\N` stays raw
/// so it can be compared with the NULL marker.
fn split_text(line: &str, delim: char) -> Result<Vec<Option<String>>, SqlError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut raw_null = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == delim {
            out.push(Some(if raw_null {
                "\\N".to_owned()
            } else {
                std::mem::take(&mut cur)
            }));
            cur.clear();
            raw_null = false;
        } else if c == '\\' {
            match chars.next() {
                Some('N') if cur.is_empty() => raw_null = true,
                Some('n') => cur.push('\n'),
                Some('t') => cur.push('\t'),
                Some('r') => cur.push('\r'),
                Some('b') => cur.push('\u{8}'),
                Some('f') => cur.push('\u{c}'),
                Some('v') => cur.push('\u{b}'),
                Some(other) => cur.push(other),
                None => return Err(bad("unterminated backslash escape")),
            }
        } else {
            cur.push(c);
        }
    }
    out.push(Some(if raw_null { "\\N".to_owned() } else { cur }));
    Ok(out)
}

/// CSV: quoted fields may hold delimiters, quotes (doubled) and newlines; an unquoted
/// field equal to the NULL string is NULL.
fn split_csv(line: &str, delim: char, quote: char, null: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == quote {
                if chars.peek() == Some(&quote) {
                    cur.push(quote);
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == quote {
            quoted = true;
            was_quoted = true;
        } else if c == delim {
            out.push(csv_field(std::mem::take(&mut cur), was_quoted, null));
            was_quoted = false;
        } else {
            cur.push(c);
        }
    }
    out.push(csv_field(cur, was_quoted, null));
    out
}

fn csv_field(s: String, quoted: bool, null: &str) -> Option<String> {
    if !quoted && s == null { None } else { Some(s) }
}

/// One output line (with its newline) for `row`.
pub fn format_row(row: &[Value], types_: &[PgType], opts: &CopyOptions) -> String {
    let mut line = String::new();
    for (i, (v, ty)) in row.iter().zip(types_).enumerate() {
        if i > 0 {
            line.push(opts.delimiter);
        }
        match types::to_text(*ty, v) {
            None => line.push_str(&opts.null),
            Some(s) => match opts.format {
                CopyFormat::Text => escape_text(&s, opts.delimiter, &mut line),
                CopyFormat::Csv => {
                    let needs = s.is_empty() && opts.null.is_empty()
                        || s.contains([opts.delimiter, opts.quote, '\n', '\r'])
                        || s == opts.null;
                    if needs {
                        line.push(opts.quote);
                        line.push_str(&s.replace(opts.quote, &format!("{0}{0}", opts.quote)));
                        line.push(opts.quote);
                    } else {
                        line.push_str(&s);
                    }
                }
            },
        }
    }
    line.push('\n');
    line
}

fn escape_text(s: &str, delim: char, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' if delim == '\t' => out.push_str("\\t"),
            c if c == delim => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(format: CopyFormat) -> CopyOptions {
        let csv = format == CopyFormat::Csv;
        CopyOptions {
            format,
            delimiter: if csv { ',' } else { '\t' },
            null: if csv { String::new() } else { "\\N".into() },
            header: false,
            quote: '"',
        }
    }

    #[test]
    fn text_and_csv_round_trip() {
        let cols = vec![
            ("a".to_owned(), PgType::Int4),
            ("b".to_owned(), PgType::Text),
        ];
        let row = parse_line(b"1\ta\\tb", &cols, &opts(CopyFormat::Text))
            .expect("parses")
            .expect("row");
        assert_eq!(row, vec![Value::Integer(1), Value::Text("a\tb".into())]);
        let row = parse_line(b"2\t\\N", &cols, &opts(CopyFormat::Text))
            .expect("parses")
            .expect("row");
        assert_eq!(row[1], Value::Null);
        let row = parse_line(b"3,\"x,\"\"y\"\"\"", &cols, &opts(CopyFormat::Csv))
            .expect("parses")
            .expect("row");
        assert_eq!(row[1], Value::Text("x,\"y\"".into()));
        let out = format_row(
            &[Value::Integer(3), Value::Text("x,y".into())],
            &[PgType::Int4, PgType::Text],
            &opts(CopyFormat::Csv),
        );
        assert_eq!(out, "3,\"x,y\"\n");
        assert!(parse_line(b"x\ty", &cols, &opts(CopyFormat::Text)).is_err());
        let mut buf = b"1\ta\n2\tb\n3".to_vec();
        assert_eq!(take_lines(&mut buf, false, b'"').len(), 2);
        assert_eq!(buf, b"3");
    }
}
