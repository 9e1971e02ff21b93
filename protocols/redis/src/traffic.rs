//! INFO stats' server-wide counters: connections, bytes, reads and writes on the wire,
//! keyspace hits and misses, expired keys, and the instantaneous rates Redis samples from them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

/// Read lookups that found their key, and that did not (Redis's `lookupKeyRead`). Counted by
/// the store, which has no server at hand: one Redis front-end runs per process.
pub static KEYSPACE_HITS: AtomicU64 = AtomicU64::new(0);
pub static KEYSPACE_MISSES: AtomicU64 = AtomicU64::new(0);
/// Keys deleted because their TTL was over, on access or by the active sweep.
pub static EXPIRED_KEYS: AtomicU64 = AtomicU64::new(0);

/// A read command's lookup of one key.
pub fn lookup(found: bool) {
    let counter = if found {
        &KEYSPACE_HITS
    } else {
        &KEYSPACE_MISSES
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

pub fn expired(keys: u64) {
    EXPIRED_KEYS.fetch_add(keys, Ordering::Relaxed);
}

/// Samples Redis averages an instantaneous rate over.
const SAMPLES: usize = 16;

#[derive(Default)]
struct Rates {
    /// When the last sample was taken, and the totals then (commands, bytes in, bytes out).
    last: Option<(Instant, [u64; 3])>,
    /// Per second, of each total.
    samples: [[f64; SAMPLES]; 3],
    next: usize,
}

#[derive(Default)]
pub struct Traffic {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// Socket reads and writes that moved bytes.
    pub reads_processed: AtomicU64,
    pub writes_processed: AtomicU64,
    rates: Mutex<Rates>,
}

impl Traffic {
    pub fn read(&self, bytes: usize) {
        self.net_input_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        self.reads_processed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn wrote(&self, bytes: usize) {
        self.net_output_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        self.writes_processed.fetch_add(1, Ordering::Relaxed);
    }

    /// Take one sample of each rate (Redis does so at every cron tick, ten times a second).
    pub fn sample(&self, commands: u64) {
        let now = Instant::now();
        let totals = [
            commands,
            self.net_input_bytes.load(Ordering::Relaxed),
            self.net_output_bytes.load(Ordering::Relaxed),
        ];
        let mut r = self.rates.lock();
        if let Some((then, before)) = r.last {
            let secs = now.duration_since(then).as_secs_f64();
            if secs > 0.0 {
                let at = r.next;
                for (i, (t, b)) in totals.iter().zip(before).enumerate() {
                    r.samples[i][at] = t.saturating_sub(b) as f64 / secs;
                }
                r.next = (at + 1) % SAMPLES;
            }
        }
        r.last = Some((now, totals));
    }

    /// Commands per second, and KiB per second in and out, averaged over the last samples.
    pub fn rates(&self) -> (u64, f64, f64) {
        let r = self.rates.lock();
        let mean = |i: usize| r.samples[i].iter().sum::<f64>() / SAMPLES as f64;
        (mean(0).round() as u64, mean(1) / 1024.0, mean(2) / 1024.0)
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for c in [
            &self.connections_received,
            &self.rejected_connections,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.reads_processed,
            &self.writes_processed,
            &KEYSPACE_HITS,
            &KEYSPACE_MISSES,
            &EXPIRED_KEYS,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        *self.rates.lock() = Rates::default();
    }
}

/// Seconds of CPU the process and the calling thread used, user and system:
/// `(process user, process sys, thread user, thread sys)`.
pub fn cpu_seconds() -> (f64, f64, f64, f64) {
    let ticks = |path: &str| -> (f64, f64) {
        let Ok(stat) = std::fs::read_to_string(path) else {
            return (0.0, 0.0);
        };
        // After the command name in parentheses: fields 14 and 15 are utime and stime.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let at = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // Linux reports in clock ticks of 1/100 s (USER_HZ).
        (at(11) / 100.0, at(12) / 100.0)
    };
    let (pu, ps) = ticks("/proc/self/stat");
    let (tu, ts) = ticks("/proc/thread-self/stat");
    (pu, ps, tu, ts)
}

/// Total memory of the machine, from /proc/meminfo.
pub fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_average_the_samples_per_second() {
        let t = Traffic::default();
        t.sample(0);
        std::thread::sleep(std::time::Duration::from_millis(50));
        t.read(2048);
        t.sample(100);
        let (ops, kin, kout) = t.rates();
        // One sample of about 2000 commands/s among 16: about 125.
        assert!(ops > 20 && ops < 200, "{ops}");
        assert!(kin > 0.0 && kout == 0.0);
        t.reset();
        assert_eq!(t.rates(), (0, 0.0, 0.0));
    }

    #[test]
    fn cpu_and_memory_are_read() {
        let (pu, ps, _, _) = cpu_seconds();
        assert!(pu >= 0.0 && ps >= 0.0);
        assert!(total_system_memory() > 0);
    }
}
