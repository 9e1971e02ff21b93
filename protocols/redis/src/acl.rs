//! ACL users: the in-memory user table (seeded from `requirepass` and `users`), SETUSER rules
//! as Redis parses them, their rendering in ACL LIST/GETUSER, and the checks that answer NOPERM.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::cmd::args::glob;
use crate::cmd::table::{self, COMMANDS, Keys, Spec};
use crate::config::Config;

/// ACL CAT's categories, in Redis's order.
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Commands whose categories Redis declares rather than derives from flags and group.
const DECLARED: &[(&str, &[&str])] = &[
    ("append", &["write", "string", "fast"]),
    ("dbsize", &["keyspace", "read", "fast"]),
    ("swapdb", &["keyspace", "write", "fast", "dangerous"]),
    ("flushdb", &["keyspace", "write", "slow", "dangerous"]),
    ("flushall", &["keyspace", "write", "slow", "dangerous"]),
    ("bzpopmin", &["write", "sortedset", "fast", "blocking"]),
    ("bzpopmax", &["write", "sortedset", "fast", "blocking"]),
    (
        "sort",
        &["write", "set", "sortedset", "list", "slow", "dangerous"],
    ),
    (
        "sort_ro",
        &["read", "set", "sortedset", "list", "slow", "dangerous"],
    ),
    ("info", &["slow", "dangerous"]),
    ("command", &["slow", "connection"]),
    ("lastsave", &["admin", "fast", "dangerous"]),
    ("wait", &["slow", "connection"]),
    ("waitaof", &["slow", "connection"]),
    ("slowlog", &["slow"]),
    ("restore", &["keyspace", "write", "slow", "dangerous"]),
    ("role", &["admin", "fast", "dangerous"]),
    ("module", &["slow"]),
    ("readonly", &["fast", "connection"]),
    ("readwrite", &["fast", "connection"]),
    ("eval_ro", &["slow", "scripting"]),
    ("evalsha_ro", &["slow", "scripting"]),
    ("fcall_ro", &["slow", "scripting"]),
    ("exec", &["slow", "transaction"]),
    ("publish", &["pubsub", "fast"]),
    ("spublish", &["pubsub", "fast"]),
];

/// Commands with subcommands: Redis gives their categories to the subcommands, and COMMAND
/// INFO shows only `@slow` for the container (ACL rules on them still use the categories
/// derived here, so `-@admin` keeps CONFIG out).
pub const CONTAINERS: &[&str] = &[
    "acl", "client", "config", "command", "object", "xgroup", "xinfo", "script", "pubsub",
    "cluster", "function", "latency", "memory",
];

/// The categories COMMAND INFO shows, in ACL CAT's order.
pub fn shown_categories(spec: &Spec) -> Vec<&'static str> {
    if CONTAINERS.contains(&spec.name) && spec.name != "command" {
        return vec!["slow"];
    }
    let own = categories(spec);
    CATEGORIES
        .iter()
        .copied()
        .filter(|c| own.contains(c))
        .collect()
}

/// The ACL categories of a command: as Redis declares them, or derived from its flags and
/// group as Redis derives them.
pub fn categories(spec: &Spec) -> Vec<&'static str> {
    if let Some((_, cats)) = DECLARED.iter().find(|(n, _)| *n == spec.name) {
        return cats.to_vec();
    }
    let mut c = Vec::with_capacity(4);
    let group = match spec.group {
        "generic" => Some("keyspace"),
        "sorted_set" => Some("sortedset"),
        "transactions" => Some("transaction"),
        "server" | "cluster" => None,
        g => CATEGORIES.iter().copied().find(|x| *x == g),
    };
    c.extend(group);
    let has = |f: &str| spec.flags.contains(&f);
    if has("write") {
        c.push("write");
    }
    if has("readonly") {
        c.push("read");
    }
    if has("admin") {
        c.extend(["admin", "dangerous"]);
    }
    if has("pubsub") && !c.contains(&"pubsub") {
        c.push("pubsub");
    }
    if has("blocking") || matches!(spec.name, "blpop" | "brpop" | "blmove" | "brpoplpush") {
        c.push("blocking");
    }
    if spec.name == "keys" && !c.contains(&"dangerous") {
        c.push("dangerous");
    }
    c.push(if has("fast") { "fast" } else { "slow" });
    c
}

/// One `+`/`-` command rule, kept in the order given (ACL LIST shows them so).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Rule {
    Command(&'static str),
    Category(&'static str),
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// `sanitize-payload` (true) or `skip-sanitize-payload` (false), when set.
    sanitize: Option<bool>,
    /// SHA-256 of each password, in the order added.
    passwords: Vec<[u8; 32]>,
    allkeys: bool,
    keys: Vec<Bytes>,
    allchannels: bool,
    channels: Vec<Bytes>,
    /// `+@all` (true) or `-@all` as the base the rules apply to.
    base: bool,
    rules: Vec<(bool, Rule)>,
    /// Whether each command of the table (by index) may run.
    allowed: Vec<bool>,
}

pub fn sha256(pw: &[u8]) -> [u8; 32] {
    Sha256::digest(pw).into()
}

fn hex(h: &[u8; 32]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &[u8]) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks(2).enumerate() {
        let v = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(v, 16).ok()?;
    }
    Some(out)
}

impl User {
    /// A user as ACL SETUSER creates it: off, no passwords, keys or channels, `-@all`.
    pub fn new(name: &str) -> Self {
        let mut u = Self {
            name: name.to_owned(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            allkeys: false,
            keys: Vec::new(),
            allchannels: false,
            channels: Vec::new(),
            base: false,
            rules: Vec::new(),
            allowed: Vec::new(),
        };
        u.recompute();
        u
    }

    /// A user with every permission (`~* &* +@all`).
    fn full(name: &str) -> Self {
        let mut u = Self::new(name);
        u.enabled = true;
        u.allkeys = true;
        u.allchannels = true;
        u.base = true;
        u.recompute();
        u
    }

    fn recompute(&mut self) {
        self.allowed = COMMANDS
            .iter()
            .map(|spec| {
                let mut ok = self.base;
                for (allow, rule) in &self.rules {
                    let hit = match rule {
                        Rule::Command(n) => *n == spec.name,
                        Rule::Category(c) => categories(spec).contains(c),
                    };
                    if hit {
                        ok = *allow;
                    }
                }
                ok
            })
            .collect();
    }

    /// May run every command on every key and channel: no check is needed.
    pub fn unrestricted(&self) -> bool {
        self.allkeys && self.allchannels && self.allowed.iter().all(|a| *a)
    }

    pub fn check_password(&self, pw: &[u8]) -> bool {
        self.enabled && (self.nopass || self.passwords.contains(&sha256(pw)))
    }

    /// Apply one SETUSER rule; the error is Redis's reason.
    pub fn apply(&mut self, op: &[u8]) -> Result<(), &'static str> {
        let lower = op.to_ascii_lowercase();
        match &lower[..] {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"allkeys" => self.all_keys(),
            b"resetkeys" => {
                self.allkeys = false;
                self.keys.clear();
            }
            b"allchannels" => self.all_channels(),
            b"resetchannels" => {
                self.allchannels = false;
                self.channels.clear();
            }
            b"allcommands" | b"+@all" => self.set_base(true),
            b"nocommands" | b"-@all" => self.set_base(false),
            b"sanitize-payload" => self.sanitize = Some(true),
            b"skip-sanitize-payload" => self.sanitize = Some(false),
            b"reset" => {
                self.sanitize = Some(true);
                for r in ["resetpass", "resetkeys", "resetchannels", "off", "-@all"] {
                    self.apply(r.as_bytes())?;
                }
            }
            _ => return self.apply_prefixed(op),
        }
        Ok(())
    }

    fn apply_prefixed(&mut self, op: &[u8]) -> Result<(), &'static str> {
        let (first, rest) = match op.split_first() {
            Some((f, r)) => (*f, r),
            None => return Err("Syntax error"),
        };
        match first {
            b'>' => {
                let h = sha256(rest);
                if !self.passwords.contains(&h) {
                    self.passwords.push(h);
                }
                self.nopass = false;
            }
            b'#' => {
                let h = unhex(rest).ok_or(
                    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
                )?;
                if !self.passwords.contains(&h) {
                    self.passwords.push(h);
                }
                self.nopass = false;
            }
            b'<' | b'!' => {
                let h = if first == b'<' {
                    Some(sha256(rest))
                } else {
                    unhex(rest)
                };
                let at = h
                    .and_then(|h| self.passwords.iter().position(|p| *p == h))
                    .ok_or("The password you are trying to remove from the user does not exist")?;
                self.passwords.remove(at);
            }
            b'~' => {
                if self.allkeys {
                    return Err(
                        "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
                    );
                }
                if rest == b"*" {
                    self.all_keys();
                } else if !self.keys.iter().any(|k| k[..] == *rest) {
                    self.keys.push(Bytes::copy_from_slice(rest));
                }
            }
            b'&' => {
                if self.allchannels {
                    return Err(
                        "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
                    );
                }
                if rest == b"*" {
                    self.all_channels();
                } else if !self.channels.iter().any(|k| k[..] == *rest) {
                    self.channels.push(Bytes::copy_from_slice(rest));
                }
            }
            b'+' | b'-' => {
                let name = String::from_utf8_lossy(rest).to_ascii_lowercase();
                let rule = match name.strip_prefix('@') {
                    Some(cat) => CATEGORIES
                        .iter()
                        .find(|c| **c == cat)
                        .map(|c| Rule::Category(c)),
                    None => table::lookup(&name).map(|s| Rule::Command(s.name)),
                };
                let rule = rule.ok_or("Unknown command or category name in ACL")?;
                self.rules.retain(|(_, r)| *r != rule);
                self.rules.push((first == b'+', rule));
                self.recompute();
            }
            _ => return Err("Syntax error"),
        }
        Ok(())
    }

    fn all_keys(&mut self) {
        self.allkeys = true;
        self.keys.clear();
    }

    fn all_channels(&mut self) {
        self.allchannels = true;
        self.channels.clear();
    }

    fn set_base(&mut self, allow: bool) {
        self.base = allow;
        self.rules.clear();
        self.recompute();
    }

    fn commands_text(&self) -> String {
        let mut s = String::from(if self.base { "+@all" } else { "-@all" });
        for (allow, rule) in &self.rules {
            s.push(' ');
            s.push(if *allow { '+' } else { '-' });
            match rule {
                Rule::Command(n) => s.push_str(n),
                Rule::Category(c) => {
                    s.push('@');
                    s.push_str(c);
                }
            }
        }
        s
    }

    fn keys_text(&self) -> String {
        if self.allkeys {
            return "~*".into();
        }
        let parts: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("~{}", String::from_utf8_lossy(k)))
            .collect();
        parts.join(" ")
    }

    fn channels_text(&self) -> String {
        if self.allchannels {
            return "&*".into();
        }
        let parts: Vec<String> = self
            .channels
            .iter()
            .map(|k| format!("&{}", String::from_utf8_lossy(k)))
            .collect();
        parts.join(" ")
    }

    /// Its flags, in Redis's order.
    fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            Some(false) => f.push("skip-sanitize-payload"),
            Some(true) => f.push("sanitize-payload"),
            None => {}
        }
        f
    }

    /// The user as ACL LIST renders it.
    pub fn describe(&self) -> String {
        let mut s = format!("user {}", self.name);
        for f in self.flags() {
            s.push(' ');
            s.push_str(f);
        }
        for p in &self.passwords {
            s.push_str(" #");
            s.push_str(&hex(p));
        }
        let keys = self.keys_text();
        if !keys.is_empty() {
            s.push(' ');
            s.push_str(&keys);
        }
        if self.allchannels {
            s.push_str(" &*");
        } else {
            s.push_str(" resetchannels");
            let ch = self.channels_text();
            if !ch.is_empty() {
                s.push(' ');
                s.push_str(&ch);
            }
        }
        s.push(' ');
        s.push_str(&self.commands_text());
        s
    }

    /// ACL GETUSER's fields: flags, passwords, commands, keys, channels, selectors.
    pub fn getuser(&self) -> crate::frame::Reply {
        use crate::frame::Reply;
        let flags = self.flags().into_iter().map(Reply::bulk).collect();
        Reply::Map(vec![
            (Reply::bulk("flags"), Reply::Array(flags)),
            (
                Reply::bulk("passwords"),
                Reply::Array(self.passwords.iter().map(|p| Reply::bulk(hex(p))).collect()),
            ),
            (Reply::bulk("commands"), Reply::bulk(self.commands_text())),
            (Reply::bulk("keys"), Reply::bulk(self.keys_text())),
            (Reply::bulk("channels"), Reply::bulk(self.channels_text())),
            (Reply::bulk("selectors"), Reply::Array(vec![])),
        ])
    }

    /// Why `args` may not run for this user, as Redis words it after `NOPERM `.
    /// Whether the user may stay subscribed to `name`: a channel matching one of its
    /// patterns, or a pattern that is one of them literally (as PSUBSCRIBE is checked).
    pub fn may_subscribe(&self, name: &[u8], pattern: bool) -> bool {
        self.allchannels
            || if pattern {
                self.channels.iter().any(|c| c[..] == *name)
            } else {
                self.channels.iter().any(|p| glob(p, name))
            }
    }

    pub fn denied(&self, spec: &Spec, args: &[Bytes]) -> Option<String> {
        self.denial(spec, args).map(|d| match d {
            Denial::Command(c) => format!("this user has no permissions to run the '{c}' command"),
            Denial::Key(_) => {
                "this user has no permissions to access one of the keys used as arguments".into()
            }
            Denial::Channel(_) => {
                "this user has no permissions to access one of the channels used as arguments"
                    .into()
            }
        })
    }

    /// The denial as ACL DRYRUN words it, naming the key or channel.
    pub fn dryrun(&self, spec: &Spec, args: &[Bytes]) -> Option<String> {
        self.denial(spec, args).map(|d| match d {
            Denial::Command(c) => format!("This user has no permissions to run the '{c}' command"),
            Denial::Key(k) => format!(
                "This user has no permissions to access the '{}' key",
                String::from_utf8_lossy(&k)
            ),
            Denial::Channel(c) => format!(
                "This user has no permissions to access the '{}' channel",
                String::from_utf8_lossy(&c)
            ),
        })
    }

    /// The reason EXEC gives for a queued command the user's rules no longer allow.
    pub fn denied_at_exec(&self, spec: &Spec, args: &[Bytes]) -> Option<&'static str> {
        self.denial(spec, args).map(|d| match d {
            Denial::Command(_) => "no permission to execute the command or subcommand",
            Denial::Key(_) => "no permission to touch the specified keys",
            Denial::Channel(_) => "no permission to access one of the channels used as arguments",
        })
    }

    fn denial(&self, spec: &Spec, args: &[Bytes]) -> Option<Denial> {
        let idx = table::index(spec.name)?;
        if !self.allowed.get(idx).copied().unwrap_or(false) {
            return Some(Denial::Command(full_name(spec.name, args)));
        }
        if !self.allkeys {
            match command_keys(spec, args) {
                Some(keys) => {
                    if let Some(k) = keys.iter().find(|k| !self.keys.iter().any(|p| glob(p, k))) {
                        return Some(Denial::Key((*k).clone()));
                    }
                }
                None => return Some(Denial::Key(args.get(1).cloned().unwrap_or_default())),
            }
        }
        if !self.allchannels {
            let bad = match spec.name {
                "publish" | "spublish" => args[1..2]
                    .iter()
                    .find(|c| !self.channels.iter().any(|p| glob(p, c))),
                "subscribe" | "ssubscribe" => args[1..]
                    .iter()
                    .find(|c| !self.channels.iter().any(|p| glob(p, c))),
                // A pattern must be one of the user's patterns, literally.
                "psubscribe" => args[1..].iter().find(|c| !self.channels.contains(c)),
                _ => None,
            };
            if let Some(c) = bad {
                return Some(Denial::Channel(c.clone()));
            }
        }
        None
    }
}

enum Denial {
    Command(String),
    Key(Bytes),
    Channel(Bytes),
}

/// `config|get` for commands with subcommands, as Redis names them in NOPERM errors.
fn full_name(name: &str, args: &[Bytes]) -> String {
    match args.get(1) {
        Some(sub) if CONTAINERS.contains(&name) => {
            format!(
                "{name}|{}",
                String::from_utf8_lossy(sub).to_ascii_lowercase()
            )
        }
        _ => name.to_owned(),
    }
}

/// The keys a command names; `None` when they cannot be told from the arguments (the command
/// is then refused to a user with key patterns, rather than let through).
pub(crate) fn command_keys<'a>(spec: &Spec, a: &'a [Bytes]) -> Option<Vec<&'a Bytes>> {
    if let Keys::At(f, l, s) = spec.keys {
        return Some(table::keys_at(a, f, l, s).collect());
    }
    if spec.keys == Keys::None {
        return Some(vec![]);
    }
    let numkeys = |at: usize| -> Option<Vec<&'a Bytes>> {
        let n: usize = std::str::from_utf8(a.get(at)?).ok()?.parse().ok()?;
        a.get(at + 1..(at + 1).checked_add(n)?)
            .map(|k| k.iter().collect())
    };
    match spec.name {
        "keys" | "scan" | "randomkey" | "dbsize" | "flushdb" => Some(vec![]),
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => numkeys(2),
        "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => {
            numkeys(1)
        }
        "blmpop" | "bzmpop" => numkeys(2),
        "zunionstore" | "zinterstore" | "zdiffstore" => {
            let mut k = numkeys(2)?;
            k.push(a.get(1)?);
            Some(k)
        }
        "xread" | "xreadgroup" => {
            let at = a.iter().position(|x| x.eq_ignore_ascii_case(b"streams"))?;
            let rest = &a[at + 1..];
            Some(rest[..rest.len() / 2].iter().collect())
        }
        _ => None,
    }
}

/// The user table. `generation` changes with every change, so connections re-read their user
/// only then.
pub struct Acl {
    users: Mutex<BTreeMap<String, Arc<User>>>,
    generation: AtomicU64,
}

impl Acl {
    /// Users from config: `default` with `requirepass` (nopass without it, off when only other
    /// users are configured), every `users` entry with all permissions.
    pub fn from_config(c: &Config) -> Self {
        let mut users = BTreeMap::new();
        let mut default = User::full("default");
        match &c.requirepass {
            Some(p) => default.passwords.push(sha256(p.as_bytes())),
            None if c.users.is_empty() => default.nopass = true,
            None => default.enabled = false,
        }
        users.insert("default".to_owned(), Arc::new(default));
        for u in &c.users {
            let mut user = User::full(&u.name);
            user.passwords.push(sha256(u.password.as_bytes()));
            users.insert(u.name.clone(), Arc::new(user));
        }
        Self {
            users: Mutex::new(users),
            generation: AtomicU64::new(0),
        }
    }

    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, name: &str) -> Option<Arc<User>> {
        self.users.lock().get(name).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.users.lock().keys().cloned().collect()
    }

    pub fn list(&self) -> Vec<String> {
        self.users.lock().values().map(|u| u.describe()).collect()
    }

    /// Whether a new connection is logged in as `default` without AUTH.
    pub fn default_open(&self) -> bool {
        self.get("default").is_some_and(|u| u.enabled && u.nopass)
    }

    pub fn authenticate(&self, name: &[u8], pw: &[u8]) -> bool {
        let name = String::from_utf8_lossy(name);
        self.get(&name).is_some_and(|u| u.check_password(pw))
    }

    /// ACL SETUSER: every rule applies, or none (the error names the first bad one).
    pub fn setuser(&self, name: &str, rules: &[Bytes]) -> Result<(), String> {
        let mut users = self.users.lock();
        let mut user = users
            .get(name)
            .map_or_else(|| User::new(name), |u| (**u).clone());
        for r in rules {
            user.apply(r).map_err(|why| {
                format!(
                    "ERR Error in ACL SETUSER modifier '{}': {why}",
                    String::from_utf8_lossy(r)
                )
            })?;
        }
        users.insert(name.to_owned(), Arc::new(user));
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    pub fn deluser(&self, names: &[Bytes]) -> Result<i64, &'static str> {
        let mut users = self.users.lock();
        if names.iter().any(|n| &n[..] == b"default") {
            return Err("ERR The 'default' user cannot be removed");
        }
        let mut n = 0;
        for name in names {
            n += i64::from(users.remove(&*String::from_utf8_lossy(name)).is_some());
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::from(s.to_owned())
    }

    #[test]
    fn rules_render_as_redis_renders_them() {
        let acl = Acl::from_config(&Config::default());
        assert_eq!(acl.list(), ["user default on nopass ~* &* +@all"]);
        acl.setuser("alice", &[b("on"), b(">p1"), b("~cached:*"), b("+get")])
            .expect("valid rules");
        assert_eq!(
            acl.get("alice").map(|u| u.describe()).unwrap_or_default(),
            "user alice on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a ~cached:* resetchannels -@all +get"
        );
        acl.setuser(
            "alice",
            &[
                b("+set"),
                b("-get"),
                b(">p2"),
                b("<p1"),
                b("-@all"),
                b("+ping"),
                b("allkeys"),
                b("&ch*"),
            ],
        )
        .expect("valid rules");
        assert_eq!(
            acl.get("alice").map(|u| u.describe()).unwrap_or_default(),
            "user alice on #3946ca64ff78d93ca61090a437cbb6b3d2ca0d488f5f9ccf3059608368b27693 ~* resetchannels &ch* -@all +ping"
        );
        let err = acl.setuser("carl", &[b("foo")]).unwrap_err();
        assert_eq!(err, "ERR Error in ACL SETUSER modifier 'foo': Syntax error");
        assert!(acl.get("carl").is_none());
        assert!(acl.authenticate(b"alice", b"p2"));
        assert!(!acl.authenticate(b"alice", b"p1"));
    }

    #[test]
    fn denials_name_the_command_and_the_keys() {
        let mut u = User::new("u");
        for r in ["on", "~cached:*", "+get", "+@list"] {
            u.apply(r.as_bytes()).expect("valid rule");
        }
        let spec = |n: &str| table::lookup(n).expect("known command");
        assert_eq!(u.denied(spec("get"), &[b("get"), b("cached:1")]), None);
        assert!(
            u.denied(spec("get"), &[b("get"), b("other")])
                .is_some_and(|e| e.contains("keys"))
        );
        assert_eq!(
            u.denied(spec("lpush"), &[b("lpush"), b("cached:l"), b("x")]),
            None
        );
        assert_eq!(
            u.denied(spec("config"), &[b("config"), b("GET"), b("x")]),
            Some("this user has no permissions to run the 'config|get' command".into())
        );
    }
}
