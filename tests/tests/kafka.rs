//! The Kafka front-end through the real binary with kcat (librdkafka): -L, -P, -C, -G, and
//! a SIGKILL in the middle of producing.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use dotdo_e2e::Dotdo;

const TOML: &str = "[kafka]\ngroup_initial_rebalance_delay_ms = 100\n";

fn kcat(d: &Dotdo, args: &[&str], input: Option<&str>) -> Output {
    let broker = d.addr("kafka").to_string();
    let mut child = Command::new("kcat")
        .arg("-b")
        .arg(&broker)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat is installed (tests/apt-packages.txt)");
    if let Some(text) = input {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kcat {args:?} failed: {}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    out
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn kcat_lists_produces_consumes_and_runs_a_group() {
    let d = Dotdo::start(TOML);
    let input: String = (0..50).map(|i| format!("k{}:msg{i}\n", i % 5)).collect();
    kcat(
        &d,
        &[
            "-P", "-t", "orders", "-K", ":", "-z", "zstd", "-X", "acks=all",
        ],
        Some(&input),
    );
    let listing = lines(&kcat(&d, &["-L", "-t", "orders"], None));
    assert!(
        listing
            .iter()
            .any(|l| l.contains("topic \"orders\" with 1 partitions")),
        "{listing:?}"
    );
    let consumed = lines(&kcat(
        &d,
        &["-C", "-t", "orders", "-e", "-f", "%o %k %s\\n"],
        None,
    ));
    let expected: Vec<String> = (0..50).map(|i| format!("{i} k{} msg{i}", i % 5)).collect();
    assert_eq!(consumed, expected);
    let group = [
        "-X",
        "auto.offset.reset=earliest",
        "-G",
        "g1",
        "orders",
        "-e",
        "-f",
        "%s\\n",
    ];
    assert_eq!(lines(&kcat(&d, &group, None)).len(), 50);
    // The group's offsets were committed: nothing new for the next member.
    kcat(&d, &["-P", "-t", "orders"], Some("late\n"));
    assert_eq!(lines(&kcat(&d, &group, None)), ["late"]);
}

#[test]
fn acknowledged_messages_survive_sigkill_exactly_once_in_order() {
    let mut d = Dotdo::start(TOML);
    let mut acked = Vec::new();
    for round in 0..5 {
        let input: String = (0..200).map(|i| format!("r{round}-{i}\n")).collect();
        // kcat exits 0 only once every message was acknowledged with acks=all.
        kcat(
            &d,
            &[
                "-P",
                "-t",
                "crash",
                "-X",
                "acks=all",
                "-X",
                "enable.idempotence=true",
            ],
            Some(&input),
        );
        acked.extend((0..200).map(|i| format!("r{round}-{i}")));
    }
    // A producer still running when the process dies: only its acknowledged part is owed.
    let broker = d.addr("kafka").to_string();
    let mut inflight = Command::new("kcat")
        .args(["-b", &broker, "-P", "-t", "crash", "-X", "acks=all"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = inflight.stdin.take().unwrap();
    for i in 0..2000 {
        let _ = writeln!(stdin, "unacked-{i}");
    }
    d.kill_and_restart();
    drop(stdin);
    let _ = inflight.kill();
    let _ = inflight.wait();
    let consumed = lines(&kcat(
        &d,
        &["-C", "-t", "crash", "-e", "-f", "%o %s\\n"],
        None,
    ));
    let values: Vec<&str> = consumed
        .iter()
        .filter_map(|l| l.split_once(' ').map(|(_, v)| v))
        .collect();
    let offsets: Vec<i64> = consumed
        .iter()
        .filter_map(|l| l.split_once(' ')?.0.parse().ok())
        .collect();
    assert_eq!(
        offsets,
        (0..offsets.len() as i64).collect::<Vec<_>>(),
        "offsets are dense and ordered"
    );
    assert_eq!(
        &values[..acked.len()],
        &acked.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    let mut seen = std::collections::HashSet::new();
    assert!(values.iter().all(|v| seen.insert(*v)), "no message twice");
}
