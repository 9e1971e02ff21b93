//! What Redis counts per command and per error: INFO commandstats, latencystats and
//! errorstats, LATENCY HISTOGRAM, and the latency monitor's events (LATENCY LATEST, HISTORY,
//! RESET, DOCTOR), kept as Redis keeps them.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::cmd::table::{COMMANDS, Spec};
use crate::frame::Reply;

/// Sub-buckets per power of two of a latency histogram: a recorded latency is known to
/// within 1/8 of itself, enough for the percentiles INFO latencystats prints.
const SUB: usize = 8;
/// Powers of two of nanoseconds covered (2^40 ns is about 18 minutes; longer is clamped).
const POWERS: usize = 41;

const BUCKETS: usize = SUB + (POWERS - 3) * SUB;

/// A latency histogram of nanosecond durations, log-linear, lock-free to record into.
struct Histogram {
    buckets: Box<[AtomicU64]>,
}

impl Histogram {
    fn new() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The bucket of `ns`: values below 2^3 have one bucket each, then each power of two
    /// has `SUB`.
    fn index(ns: u64) -> usize {
        let ns = ns.max(1);
        let power = 63 - ns.leading_zeros() as usize;
        if power < 3 {
            return ns as usize;
        }
        let sub = ((ns >> (power - 3)) & (SUB as u64 - 1)) as usize;
        (SUB + (power - 3) * SUB + sub).min(BUCKETS - 1)
    }

    /// The largest value bucket `i` holds.
    fn upper(i: usize) -> u64 {
        if i < SUB {
            return i as u64;
        }
        let (power, sub) = ((i - SUB) / SUB + 3, ((i - SUB) % SUB) as u64);
        let step = 1u64 << (power - 3);
        (1u64 << power) + (sub + 1) * step - 1
    }

    fn record(&self, ns: u64) {
        self.buckets[Self::index(ns)].fetch_add(1, Ordering::Relaxed);
    }

    fn counts(&self) -> Vec<u64> {
        self.buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }

    fn clear(&self) {
        self.buckets
            .iter()
            .for_each(|b| b.store(0, Ordering::Relaxed));
    }
}

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    usec: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    /// Allocated at the first timed call (most commands are never called).
    histogram: std::sync::OnceLock<Histogram>,
}

/// Commands whose subcommands Redis counts apart (`cmdstat_config|get`).
pub(crate) const CONTAINERS: &[&str] = &[
    "acl", "client", "cluster", "command", "config", "function", "latency", "memory", "module",
    "object", "pubsub", "script", "slowlog", "xgroup", "xinfo",
];

/// The full names of `container`'s subcommands (none for a command that is no container), as
/// redis-server 7.0 lists them (`cmd::reference`).
pub fn subcommands_of(container: &'static str) -> impl Iterator<Item = &'static str> {
    crate::cmd::reference::subcommand_names()
        .iter()
        .copied()
        .filter(move |full| {
            full.strip_prefix(container)
                .is_some_and(|r| r.starts_with('|'))
        })
}

/// A command's full name as Redis names it, `client|list` for a known subcommand of a
/// container command, else the command's own name; "" for an unknown subcommand (Redis found
/// no command: CLIENT LIST shows `cmd=NULL`).
pub fn full_name(spec: &'static Spec, sub: Option<&[u8]>) -> &'static str {
    match sub {
        Some(sub) if spec.container => subcommands_of(spec.name)
            .find(|full| full.as_bytes()[spec.name.len() + 1..].eq_ignore_ascii_case(sub))
            .unwrap_or(""),
        _ => spec.name,
    }
}

/// One latency monitor event (`command`, `fast-command`): its last 160 seconds with a spike,
/// the latest and the largest.
#[derive(Default)]
struct Event {
    /// (unix seconds, ms), one per second at most.
    samples: VecDeque<(i64, u64)>,
    max: u64,
}

const EVENT_SAMPLES: usize = 160;

pub struct Stats {
    counters: Box<[Counters]>,
    /// Subcommands of the `CONTAINERS`, by `container|sub`, added as they are first run.
    subs: Mutex<BTreeMap<String, std::sync::Arc<Counters>>>,
    errors: Mutex<BTreeMap<String, u64>>,
    error_replies: AtomicU64,
    /// Commands run (INFO's `total_commands_processed`): as Redis counts its `call`s, the
    /// commands EXEC and scripts run too, and no command refused before it ran.
    processed: AtomicU64,
    /// `latency-tracking`.
    tracking: AtomicBool,
    /// `latency-tracking-info-percentiles`.
    percentiles: Mutex<Vec<f64>>,
    /// `latency-monitor-threshold` in ms; 0 records no events.
    monitor_ms: AtomicU64,
    events: Mutex<BTreeMap<&'static str, Event>>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            counters: COMMANDS.iter().map(|_| Counters::default()).collect(),
            subs: Mutex::new(BTreeMap::new()),
            errors: Mutex::new(BTreeMap::new()),
            error_replies: AtomicU64::new(0),
            processed: AtomicU64::new(0),
            tracking: AtomicBool::new(true),
            percentiles: Mutex::new(vec![50.0, 99.0, 99.9]),
            monitor_ms: AtomicU64::new(0),
            events: Mutex::new(BTreeMap::new()),
        }
    }
}

fn index_of(spec: &'static Spec) -> Option<usize> {
    let at = (spec as *const Spec as usize).checked_sub(COMMANDS.as_ptr() as usize)?;
    let i = at / std::mem::size_of::<Spec>();
    (i < COMMANDS.len()).then_some(i)
}

/// Redis's error code of an error reply: its first word (`ERR`, `WRONGTYPE`, ...).
fn error_code(reply: &[u8]) -> String {
    let body = reply.strip_prefix(b"-").unwrap_or(reply);
    let end = body
        .iter()
        .position(|&b| b == b' ' || b == b'\r')
        .unwrap_or(body.len());
    String::from_utf8_lossy(&body[..end.min(128)]).into_owned()
}

impl Stats {
    /// The counters of `spec`, or of its subcommand `sub` for a container command. An
    /// unknown subcommand (its reply is the error) gets none, so clients cannot add names.
    fn with_counters<T>(
        &self,
        spec: &'static Spec,
        sub: Option<&[u8]>,
        reply: &[u8],
        f: impl FnOnce(&Counters) -> T,
    ) -> Option<T> {
        let i = index_of(spec)?;
        match sub {
            Some(sub) if spec.container => {
                if reply.starts_with(b"-ERR unknown subcommand") || sub.len() > 32 {
                    return None;
                }
                let name = format!(
                    "{}|{}",
                    spec.name,
                    String::from_utf8_lossy(sub).to_ascii_lowercase()
                );
                let entry = self.subs.lock().entry(name).or_default().clone();
                Some(f(&entry))
            }
            _ => Some(f(&self.counters[i])),
        }
    }

    /// A command that ran for `ns` (`None`: it blocked, and its wait is not its run time;
    /// Redis times neither); `reply` is what it answered (an error counts as failed).
    pub fn record(&self, spec: &'static Spec, sub: Option<&[u8]>, ns: Option<u64>, reply: &[u8]) {
        self.record_counted(spec, sub, ns, reply, false);
    }

    /// A command run by EXEC or by a script, with the reply it gave there. `counted`: an
    /// error reply that was counted in the error statistics already (a script's error that a
    /// command it called raised), so it counts as a failed call only.
    pub fn record_reply(
        &self,
        spec: &'static Spec,
        sub: Option<&[u8]>,
        ns: Option<u64>,
        reply: &Reply,
        counted: bool,
    ) {
        match reply {
            Reply::Error(msg) => {
                let bytes = format!("-{msg}\r\n");
                self.record_counted(spec, sub, ns, bytes.as_bytes(), counted);
            }
            _ => self.record_counted(spec, sub, ns, b"+", false),
        }
    }

    /// A command a script called that was refused before it ran (arity, ACL, a write in a
    /// read-only script...), or an unknown one (`spec` `None`).
    pub fn reject_reply(&self, spec: Option<&'static Spec>, msg: &str) {
        self.reject(spec, format!("-{msg}\r\n").as_bytes());
    }

    /// An error reply that no command's statistics count (NOPERM at EXEC).
    pub fn error_reply(&self, msg: &str) {
        self.error(format!("-{msg}\r\n").as_bytes());
    }

    /// As `record`; with `counted`, an error reply is not counted again in errorstats.
    pub fn record_counted(
        &self,
        spec: &'static Spec,
        sub: Option<&[u8]>,
        ns: Option<u64>,
        reply: &[u8],
        counted: bool,
    ) {
        // An unknown subcommand is refused before it runs, in Redis.
        let refused =
            sub.is_some() && spec.container && reply.starts_with(b"-ERR unknown subcommand");
        if !refused {
            self.processed.fetch_add(1, Ordering::Relaxed);
        }
        let failed = reply.first() == Some(&b'-');
        if failed && !counted {
            self.error(reply);
        }
        let tracking = self.tracking.load(Ordering::Relaxed);
        self.with_counters(spec, sub, reply, |c| {
            c.calls.fetch_add(1, Ordering::Relaxed);
            if failed {
                c.failed.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(ns) = ns {
                c.usec.fetch_add(ns / 1000, Ordering::Relaxed);
                if tracking {
                    c.histogram.get_or_init(Histogram::new).record(ns);
                }
            }
        });
        let threshold = self.monitor_ms.load(Ordering::Relaxed);
        if let Some(ns) = ns
            && threshold > 0
            && ns / 1_000_000 >= threshold
        {
            let fast = spec.flags.contains(&"fast");
            let name = if fast { "fast-command" } else { "command" };
            self.add_event(name, ns / 1_000_000, crate::store::now_ms() / 1000);
        }
    }

    /// A command refused before it ran (arity, ACL, NOAUTH, BUSY...), with its error.
    pub fn reject(&self, spec: Option<&'static Spec>, reply: &[u8]) {
        if let Some(spec) = spec {
            self.with_counters(spec, None, reply, |c| {
                c.rejected.fetch_add(1, Ordering::Relaxed);
            });
        }
        self.error(reply);
    }

    /// Every command, then every subcommand run so far, with its counters.
    fn for_each(&self, mut f: impl FnMut(&str, &Counters)) {
        for (spec, c) in COMMANDS.iter().zip(self.counters.iter()) {
            f(spec.name, c);
        }
        let subs: Vec<(String, std::sync::Arc<Counters>)> = self
            .subs
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (name, c) in subs {
            f(&name, &c);
        }
    }

    fn error(&self, reply: &[u8]) {
        self.error_replies.fetch_add(1, Ordering::Relaxed);
        let code = error_code(reply);
        let mut errors = self.errors.lock();
        // Redis keeps at most 128 error codes, then counts the rest only in the total.
        if errors.len() < 128 || errors.contains_key(&code) {
            *errors.entry(code).or_default() += 1;
        }
    }

    pub fn error_replies(&self) -> u64 {
        self.error_replies.load(Ordering::Relaxed)
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        self.for_each(|_, c| {
            for a in [&c.calls, &c.usec, &c.rejected, &c.failed] {
                a.store(0, Ordering::Relaxed);
            }
            if let Some(h) = c.histogram.get() {
                h.clear();
            }
        });
        self.errors.lock().clear();
        self.error_replies.store(0, Ordering::Relaxed);
        self.processed.store(0, Ordering::Relaxed);
    }

    pub fn processed(&self) -> u64 {
        self.processed.load(Ordering::Relaxed)
    }

    pub fn tracking(&self) -> bool {
        self.tracking.load(Ordering::Relaxed)
    }

    pub fn set_tracking(&self, on: bool) {
        self.tracking.store(on, Ordering::Relaxed);
    }

    pub fn percentiles(&self) -> Vec<f64> {
        self.percentiles.lock().clone()
    }

    pub fn set_percentiles(&self, p: Vec<f64>) {
        *self.percentiles.lock() = p;
    }

    pub fn monitor_ms(&self) -> u64 {
        self.monitor_ms.load(Ordering::Relaxed)
    }

    pub fn set_monitor_ms(&self, ms: u64) {
        self.monitor_ms.store(ms, Ordering::Relaxed);
    }

    fn add_event(&self, name: &'static str, ms: u64, unix_secs: i64) {
        let mut events = self.events.lock();
        let e = events.entry(name).or_default();
        match e.samples.back_mut() {
            Some((t, v)) if *t == unix_secs => *v = (*v).max(ms),
            _ => {
                if e.samples.len() == EVENT_SAMPLES {
                    e.samples.pop_front();
                }
                e.samples.push_back((unix_secs, ms));
            }
        }
        e.max = e.max.max(ms);
    }

    /// INFO commandstats.
    pub fn info_commandstats(&self) -> String {
        let mut text = String::from("# Commandstats\r\n");
        self.for_each(|name, c| {
            let calls = c.calls.load(Ordering::Relaxed);
            let rejected = c.rejected.load(Ordering::Relaxed);
            let failed = c.failed.load(Ordering::Relaxed);
            if calls == 0 && rejected == 0 && failed == 0 {
                return;
            }
            let usec = c.usec.load(Ordering::Relaxed);
            let per_call = if calls > 0 {
                usec as f64 / calls as f64
            } else {
                0.0
            };
            text.push_str(&format!(
                "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n"
            ));
        });
        text.push_str("\r\n");
        text
    }

    /// INFO latencystats: each called command's latency percentiles in µs.
    pub fn info_latencystats(&self) -> String {
        let percentiles = self.percentiles();
        let mut text = String::from("# Latencystats\r\n");
        self.for_each(|name, c| {
            let Some(h) = c.histogram.get() else { return };
            let counts = h.counts();
            let total: u64 = counts.iter().sum();
            if total == 0 || percentiles.is_empty() {
                return;
            }
            let parts: Vec<String> = percentiles
                .iter()
                .map(|p| {
                    let want = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
                    let mut seen = 0;
                    let mut at = 0;
                    for (i, n) in counts.iter().enumerate() {
                        seen += n;
                        if seen >= want {
                            at = i;
                            break;
                        }
                    }
                    format!(
                        "p{}={:.3}",
                        format_percentile(*p),
                        Histogram::upper(at) as f64 / 1000.0
                    )
                })
                .collect();
            text.push_str(&format!(
                "latency_percentiles_usec_{name}:{}\r\n",
                parts.join(",")
            ));
        });
        text.push_str("\r\n");
        text
    }

    /// INFO errorstats.
    pub fn info_errorstats(&self) -> String {
        let mut text = String::from("# Errorstats\r\n");
        for (code, n) in self.errors.lock().iter() {
            text.push_str(&format!("errorstat_{code}:count={n}\r\n"));
        }
        text.push_str("\r\n");
        text
    }

    /// LATENCY HISTOGRAM [command ...]: calls and cumulative counts at power-of-two µs
    /// bounds, for every called command or the ones named (`config|get` for a subcommand).
    pub fn histogram_reply(&self, names: &[String]) -> Reply {
        let mut out = Vec::new();
        self.for_each(|name, c| {
            if !names.is_empty() && !names.iter().any(|n| n == name) {
                return;
            }
            let Some(h) = c.histogram.get() else { return };
            let counts = h.counts();
            let calls: u64 = counts.iter().sum();
            if calls == 0 {
                return;
            }
            // Bounds of 1024 ns times powers of two, shown as Redis's HdrHistogram (2
            // significant digits) shows them: the highest value equivalent to the bound, in µs
            // (32768 ns reads 33). A bound is shown where the cumulative count grew.
            let mut cdf = Vec::new();
            let (mut cumulative, mut previous, mut i) = (0u64, 0u64, 0usize);
            let mut bound: u64 = 1024;
            while cumulative < calls {
                while i < counts.len() && Histogram::upper(i) < bound {
                    cumulative += counts[i];
                    i += 1;
                }
                if cumulative > previous {
                    cdf.push((
                        Reply::Int(((bound + bound / 128 - 1) / 1000) as i64),
                        Reply::Int(cumulative as i64),
                    ));
                }
                previous = cumulative;
                if i >= counts.len() {
                    break;
                }
                bound = bound.saturating_mul(2);
            }
            out.push((
                Reply::bulk(name.to_owned()),
                Reply::Map(vec![
                    (Reply::bulk("calls"), Reply::Int(calls as i64)),
                    (Reply::bulk("histogram_usec"), Reply::Map(cdf)),
                ]),
            ));
        });
        Reply::Map(out)
    }

    /// LATENCY LATEST: event, time of the latest spike, its ms, the largest ms.
    pub fn latest_reply(&self) -> Reply {
        let events = self.events.lock();
        Reply::Array(
            events
                .iter()
                .filter_map(|(name, e)| {
                    let (t, ms) = *e.samples.back()?;
                    Some(Reply::Array(vec![
                        Reply::bulk(*name),
                        Reply::Int(t),
                        Reply::Int(ms as i64),
                        Reply::Int(e.max as i64),
                    ]))
                })
                .collect(),
        )
    }

    /// LATENCY HISTORY event.
    pub fn history_reply(&self, name: &str) -> Reply {
        let events = self.events.lock();
        Reply::Array(
            events
                .get(name)
                .map(|e| {
                    e.samples
                        .iter()
                        .map(|(t, ms)| Reply::Array(vec![Reply::Int(*t), Reply::Int(*ms as i64)]))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// LATENCY RESET [event ...]: how many events were reset.
    pub fn reset_events(&self, names: &[String]) -> i64 {
        let mut events = self.events.lock();
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n as i64;
        }
        names
            .iter()
            .filter(|n| events.remove(n.as_str()).is_some())
            .count() as i64
    }

    /// LATENCY DOCTOR: Redis's words when nothing was seen, else one paragraph per event.
    pub fn doctor(&self) -> String {
        let events = self.events.lock();
        if events.is_empty() {
            let text = if self.monitor_ms() == 0 {
                "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
            } else {
                "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n"
            };
            return text.into();
        }
        let mut text = String::from(
            "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
        );
        for (i, (name, e)) in events.iter().enumerate() {
            let n = e.samples.len() as u64;
            let avg = e.samples.iter().map(|(_, ms)| ms).sum::<u64>() / n.max(1);
            let first = e.samples.front().map_or(0, |s| s.0);
            let last = e.samples.back().map_or(0, |s| s.0);
            text.push_str(&format!(
                "{}. {name}: {n} latency spikes (average {avg}ms, mean deviation 0ms, period {} sec). Worst all time event {}ms.\n",
                i + 1,
                if n > 1 { (last - first) / (n as i64 - 1) } else { 0 },
                e.max
            ));
        }
        text.push_str("\nI have a few advices for you:\n\n- Check your system for other processes competing for the CPU, and for commands with a high time complexity (SLOWLOG GET).\n");
        text
    }
}

impl Stats {
    /// LATENCY DOCTOR | GRAPH | HISTORY | LATEST | RESET | HISTOGRAM | HELP.
    pub fn command(&self, a: &[bytes::Bytes]) -> Reply {
        use crate::cmd::args::is;
        let sub = &a[1];
        let rest: Vec<String> = a[2..]
            .iter()
            .map(|x| String::from_utf8_lossy(x).into_owned())
            .collect();
        if is(sub, "history") && a.len() == 3 {
            return self.history_reply(&rest[0]);
        }
        if is(sub, "graph") && a.len() == 3 {
            if !self.events.lock().contains_key(rest[0].as_str()) {
                return Reply::err(format!("ERR No samples available for event '{}'", rest[0]));
            }
            return Reply::err("ERR LATENCY GRAPH is not supported by dotdo: use LATENCY HISTORY");
        }
        if is(sub, "latest") && a.len() == 2 {
            return self.latest_reply();
        }
        if is(sub, "doctor") && a.len() == 2 {
            return Reply::Verbatim(self.doctor());
        }
        if is(sub, "reset") {
            return Reply::Int(self.reset_events(&rest));
        }
        if is(sub, "histogram") {
            let names: Vec<String> = rest.iter().map(|n| n.to_ascii_lowercase()).collect();
            return self.histogram_reply(&names);
        }
        if is(sub, "help") && a.len() == 2 {
            return crate::cmd::args::help(
                "LATENCY",
                &[
                    "DOCTOR",
                    "    Return a human readable latency analysis report.",
                    "GRAPH <event>",
                    "    Return an ASCII latency graph for the <event> class.",
                    "HISTORY <event>",
                    "    Return time-latency samples for the <event> class.",
                    "LATEST",
                    "    Return the latest latency samples for all events.",
                    "RESET [<event> ...]",
                    "    Reset latency data of one or more <event> classes.",
                    "    (default: reset all data for all event classes)",
                    "HISTOGRAM [COMMAND ...]",
                    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                    "    If no commands are specified then all histograms are replied.",
                ],
            );
        }
        let name = String::from_utf8_lossy(sub).to_ascii_lowercase();
        if matches!(
            name.as_str(),
            "history" | "graph" | "latest" | "doctor" | "help"
        ) {
            return Reply::err(format!(
                "ERR wrong number of arguments for 'latency|{name}' command"
            ));
        }
        Reply::err(format!(
            "ERR unknown subcommand '{}'. Try LATENCY HELP.",
            String::from_utf8_lossy(sub)
        ))
    }
}

/// A percentile as Redis prints it in INFO latencystats (`50`, `99.9`).
fn format_percentile(p: f64) -> String {
    let s = format!("{p}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_what_they_claim() {
        for ns in [
            1u64,
            2,
            7,
            8,
            9,
            15,
            16,
            1000,
            1023,
            1024,
            1_000_000,
            123_456_789,
        ] {
            let i = Histogram::index(ns);
            assert!(Histogram::upper(i) >= ns, "{ns}");
            assert!(i == 0 || Histogram::upper(i - 1) < ns, "{ns}");
            // Within an eighth of the value.
            assert!(Histogram::upper(i) - ns <= ns / 8 + 1, "{ns}");
        }
        assert_eq!(Histogram::index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn histogram_reply_is_cumulative_at_power_of_two_bounds() {
        let stats = Stats::default();
        let get = crate::cmd::table::lookup("get").unwrap();
        for ns in [500, 900, 1500, 3000, 3000, 100_000] {
            stats.record(get, None, Some(ns), b"$1\r\nx\r\n");
        }
        let Reply::Map(all) = stats.histogram_reply(&[]) else {
            panic!()
        };
        assert_eq!(all.len(), 1);
        let Reply::Map(fields) = &all[0].1 else {
            panic!()
        };
        assert_eq!(fields[0].1, Reply::Int(6));
        let Reply::Map(cdf) = &fields[1].1 else {
            panic!()
        };
        let pairs: Vec<(i64, i64)> = cdf
            .iter()
            .map(|(b, c)| match (b, c) {
                (Reply::Int(b), Reply::Int(c)) => (*b, *c),
                _ => panic!(),
            })
            .collect();
        assert_eq!(pairs, vec![(1, 2), (2, 3), (4, 5), (132, 6)]);
    }

    #[test]
    fn errors_count_by_code() {
        let stats = Stats::default();
        let get = crate::cmd::table::lookup("get").unwrap();
        stats.record(
            get,
            None,
            Some(10),
            b"-WRONGTYPE Operation against a key\r\n",
        );
        stats.reject(
            Some(get),
            b"-ERR wrong number of arguments for 'get' command\r\n",
        );
        stats.reject(None, b"-ERR unknown command\r\n");
        assert_eq!(
            stats.info_errorstats(),
            "# Errorstats\r\nerrorstat_ERR:count=2\r\nerrorstat_WRONGTYPE:count=1\r\n\r\n"
        );
        assert!(stats.info_commandstats().contains(
            "cmdstat_get:calls=1,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=1"
        ));
    }
}
