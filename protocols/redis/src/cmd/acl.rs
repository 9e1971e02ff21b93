//! The ACL command: WHOAMI, USERS, LIST, GETUSER, SETUSER, DELUSER, CAT, LOG, DRYRUN.

use bytes::Bytes;

use super::table::{COMMANDS, lookup};
use crate::acl::{CATEGORIES, categories};
use crate::frame::Reply;
use crate::server::Server;
use crate::session::Session;

pub fn acl(s: &mut Session, server: &Server, a: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    let wrong = || {
        Reply::err(format!(
            "ERR wrong number of arguments for 'acl|{sub}' command"
        ))
    };
    let name = |i: usize| String::from_utf8_lossy(&a[i]).into_owned();
    match (sub.as_str(), a.len()) {
        ("whoami", 2) => Reply::bulk(s.user.clone()),
        ("users", 2) => Reply::bulks(server.acl.names().into_iter().map(Bytes::from)),
        ("list", 2) => Reply::bulks(server.acl.list().into_iter().map(Bytes::from)),
        ("getuser", 3) => match server.acl.get(&name(2)) {
            Some(u) => u.getuser(),
            None => Reply::Nil,
        },
        ("setuser", n) if n >= 3 => match server.acl.setuser(&name(2), &a[3..]) {
            Ok(()) => {
                if server.kill_revoked_subscribers(&name(2), s.id) {
                    s.closing = true;
                }
                Reply::ok()
            }
            Err(e) => Reply::err(e),
        },
        ("deluser", n) if n >= 3 => match server.acl.deluser(&a[2..]) {
            Ok(n) => {
                // Redis closes the deleted users' connections (this one too, after the reply).
                for u in &a[2..] {
                    let u = String::from_utf8_lossy(u);
                    if *u == s.user {
                        s.closing = true;
                    } else {
                        server.kill_user(&u);
                    }
                }
                Reply::Int(n)
            }
            Err(e) => Reply::err(e),
        },
        ("cat", 2) => Reply::bulks(CATEGORIES.iter().map(|c| Bytes::from_static(c.as_bytes()))),
        ("cat", 3) => {
            let cat = name(2).to_ascii_lowercase();
            if !CATEGORIES.contains(&cat.as_str()) {
                return Reply::err(format!("ERR Unknown category '{}'", name(2)));
            }
            Reply::bulks(
                COMMANDS
                    .iter()
                    .filter(|spec| categories(spec).contains(&cat.as_str()))
                    .map(|spec| Bytes::from_static(spec.name.as_bytes())),
            )
        }
        // Nothing is logged: denials are answered, not recorded.
        ("log", 2) => Reply::Array(vec![]),
        ("log", 3) if super::args::is(&a[2], "reset") => Reply::ok(),
        ("log", 3) => match super::args::strict_i64(&a[2]) {
            Some(n) if n >= 0 => Reply::Array(vec![]),
            _ => Reply::err("ERR value is out of range, must be positive"),
        },
        ("dryrun", n) if n >= 4 => dryrun(server, a),
        ("genpass", 2 | 3) => genpass(a.get(2)),
        ("save" | "load", 2) => Reply::err(
            "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.",
        ),
        // Variadic subcommands check their own argument count, with this wording.
        ("cat" | "log" | "genpass", _) => Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
            name(1)
        )),
        (
            "whoami" | "users" | "list" | "getuser" | "setuser" | "deluser" | "dryrun" | "save"
            | "load",
            _,
        ) => wrong(),
        _ => Reply::err(format!(
            "ERR unknown subcommand '{}'. Try ACL HELP.",
            name(1)
        )),
    }
}

/// ACL GENPASS [bits]: that many random bits (256 by default) in hex, from the OS's randomness.
fn genpass(bits: Option<&Bytes>) -> Reply {
    let bits = match bits.map(|b| super::args::strict_i64(b)) {
        None => 256,
        Some(Some(n)) if (1..=4096).contains(&n) => n as usize,
        Some(None) => return Reply::err(crate::frame::errors::NOT_INT),
        Some(Some(_)) => {
            return Reply::err(
                "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
            );
        }
    };
    let mut buf = vec![0u8; bits.div_ceil(8)];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf));
    if read.is_err() {
        return Reply::err("ERR no source of randomness");
    }
    let mut hex: String = buf.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(bits.div_ceil(4));
    Reply::bulk(hex)
}

/// ACL DRYRUN user command [arg ...]: OK, or why the user may not run it.
fn dryrun(server: &Server, a: &[Bytes]) -> Reply {
    let user = String::from_utf8_lossy(&a[2]);
    let Some(u) = server.acl.get(&user) else {
        return Reply::err(format!("ERR User '{user}' not found"));
    };
    let cmd = String::from_utf8_lossy(&a[3]).to_ascii_lowercase();
    let Some(spec) = lookup(&cmd) else {
        return Reply::err(format!("ERR Command '{cmd}' not found"));
    };
    let args = &a[3..];
    if !spec.arity_ok(args.len()) {
        return Reply::wrong_args(&cmd);
    }
    match u.dryrun(spec, args) {
        None => Reply::ok(),
        Some(why) => Reply::bulk(why),
    }
}
