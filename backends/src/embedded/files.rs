//! Where objects live on disk: `<data_dir>/ns-<namespace>/o-<name>.db`, names escaped.
//!
//! Escaping keeps `[A-Za-z0-9_.-]` and writes every other byte as `%XX`, so any namespace or
//! name is a safe, reversible file name. Names too long for a file name are cut and suffixed
//! with a hash, and their full name is kept beside the file in `<file>.name`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::{Error, ObjectId};

const NS_PREFIX: &str = "ns-";
const OBJ_PREFIX: &str = "o-";
const OBJ_SUFFIX: &str = ".db";
/// Leaves room within 255 bytes for the prefix, suffix and SQLite's `-wal`/`-shm`.
const MAX_ESCAPED: usize = 200;

pub(crate) fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > MAX_ESCAPED {
        let mut cut = MAX_ESCAPED - 17;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        // Never end inside a `%XX` escape, so `unescape` can tell a cut name by its `~`.
        if let Some(p) = out[out.len().saturating_sub(2)..].find('%') {
            out.truncate(out.len() - 2 + p);
        }
        out.push_str(&format!("~{:016x}", fnv1a(name.as_bytes())));
    }
    out
}

fn unescape(escaped: &str) -> Option<String> {
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = escaped.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub(crate) fn namespace_dir(data_dir: &Path, namespace: &str) -> PathBuf {
    data_dir.join(format!("{NS_PREFIX}{}", escape(namespace)))
}

pub(crate) fn object_path(data_dir: &Path, id: &ObjectId) -> PathBuf {
    namespace_dir(data_dir, &id.namespace)
        .join(format!("{OBJ_PREFIX}{}{OBJ_SUFFIX}", escape(&id.name)))
}

fn name_file(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".name");
    PathBuf::from(p)
}

fn io_err(what: &str, path: &Path, e: io::Error) -> Error {
    Error::Io(format!("{what} {}: {e}", path.display()))
}

/// Make sure the object's directory exists and is durable, and record a long name.
pub(crate) fn prepare(data_dir: &Path, id: &ObjectId, db: &Path) -> Result<(), Error> {
    let dir = namespace_dir(data_dir, &id.namespace);
    if !dir.exists() {
        fs::create_dir_all(&dir).map_err(|e| io_err("creating", &dir, e))?;
        sync_dir(data_dir)?;
    }
    if escape(&id.name).contains('~') {
        let nf = name_file(db);
        if !nf.exists() {
            fs::write(&nf, id.name.as_bytes()).map_err(|e| io_err("writing", &nf, e))?;
            fs::File::open(&nf)
                .and_then(|f| f.sync_all())
                .map_err(|e| io_err("syncing", &nf, e))?;
        }
    }
    Ok(())
}

/// fsync a directory, so that files created in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err("syncing directory", dir, e))
}

pub(crate) fn list_objects(data_dir: &Path, namespace: &str) -> Result<Vec<String>, Error> {
    let dir = namespace_dir(data_dir, namespace);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("listing", &dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_err("listing", &dir, e))?;
        let file = entry.file_name();
        let Some(escaped) = file
            .to_str()
            .and_then(|f| f.strip_prefix(OBJ_PREFIX))
            .and_then(|f| f.strip_suffix(OBJ_SUFFIX))
        else {
            continue;
        };
        let name = if escaped.contains('~') {
            fs::read_to_string(name_file(&entry.path())).ok()
        } else {
            unescape(escaped)
        };
        names.extend(name);
    }
    names.sort();
    Ok(names)
}

/// Remove an object's files. The caller has closed the object.
pub(crate) fn remove_object(db: &Path) -> Result<(), Error> {
    for suffix in ["", "-wal", "-shm", "-journal", ".name"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing", &p, e)),
        }
    }
    if let Some(dir) = db.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_is_reversible_and_safe() {
        for name in ["redis/0", "..", ".", "", "a b%c", "ünï/cødé", "x\0y"] {
            let e = escape(name);
            assert!(!e.contains('/') && !e.contains('\0'), "{e}");
            assert_eq!(unescape(&e).as_deref(), Some(name));
        }
    }

    #[test]
    fn long_names_are_cut_and_hashed_distinctly() {
        let a = "a".repeat(1000);
        let b = format!("{}b", "a".repeat(999));
        let (ea, eb) = (escape(&a), escape(&b));
        assert!(ea.len() <= MAX_ESCAPED && eb.len() <= MAX_ESCAPED);
        assert_ne!(ea, eb);
        let pct = "/".repeat(300);
        assert!(escape(&pct).len() <= MAX_ESCAPED);
    }

    #[test]
    fn lists_objects_in_a_namespace() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b", "a/x", &"z".repeat(500)] {
            let id = ObjectId::new("ns/1", name);
            let db = object_path(dir.path(), &id);
            prepare(dir.path(), &id, &db).unwrap();
            fs::write(&db, b"").unwrap();
        }
        let names = list_objects(dir.path(), "ns/1").unwrap();
        assert_eq!(
            names,
            vec!["a/x".to_string(), "b".to_string(), "z".repeat(500)]
        );
        assert!(list_objects(dir.path(), "other").unwrap().is_empty());
    }
}
