//! Bitmaps, HyperLogLog, GEO and SORT through the real binary with the Rust `redis` crate and
//! redis-cli: acknowledged writes survive a SIGKILL byte for byte (an HLL's sparse or dense
//! string, a bitmap, a geo set's scores, a SORT ... STORE list).

use std::process::Command;

use dotdo_e2e::Dotdo;
use redis::Commands;

fn client(d: &Dotdo) -> redis::Connection {
    redis::Client::open(format!("redis://{}/", d.addr("redis")))
        .unwrap()
        .get_connection()
        .unwrap()
}

type Snapshot = (
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    Vec<(String, f64)>,
    Vec<String>,
    i64,
);

fn snapshot(c: &mut redis::Connection) -> Snapshot {
    let get = |c: &mut redis::Connection, k: &str| -> Vec<u8> { c.get(k).unwrap() };
    (
        get(c, "bits"),
        get(c, "hll:sparse"),
        get(c, "hll:dense"),
        c.zrange_withscores("Sicily", 0, -1).unwrap(),
        c.lrange("sorted", 0, -1).unwrap(),
        redis::cmd("PFCOUNT")
            .arg("hll:sparse")
            .arg("hll:dense")
            .query(c)
            .unwrap(),
    )
}

#[test]
fn new_families_survive_sigkill_byte_for_byte() {
    let mut d = Dotdo::start("");
    let before = {
        let mut c = client(&d);
        let mut p = redis::pipe();
        for i in (0..4000).step_by(7) {
            p.cmd("SETBIT").arg("bits").arg(i).arg(1).ignore();
        }
        p.cmd("BITFIELD")
            .arg("bits")
            .arg("SET")
            .arg("i16")
            .arg("#3")
            .arg(-1234)
            .ignore();
        p.cmd("PFADD")
            .arg("hll:sparse")
            .arg("a")
            .arg("b")
            .arg("c")
            .ignore();
        for chunk in 0..10 {
            let mut cmd = redis::cmd("PFADD");
            cmd.arg("hll:dense");
            for i in 0..500 {
                cmd.arg(format!("e{}", chunk * 500 + i));
            }
            p.add_command(cmd).ignore();
        }
        // PFCOUNT caches the cardinality inside the string: that write must be durable too.
        p.cmd("PFCOUNT").arg("hll:dense").ignore();
        p.cmd("GEOADD")
            .arg("Sicily")
            .arg(13.361389)
            .arg(38.115556)
            .arg("Palermo")
            .arg(15.087269)
            .arg(37.502669)
            .arg("Catania")
            .ignore();
        p.cmd("RPUSH").arg("ids").arg(3).arg(1).arg(2).ignore();
        p.cmd("MSET")
            .arg("w_1")
            .arg(30)
            .arg("w_2")
            .arg(10)
            .arg("w_3")
            .arg(20)
            .ignore();
        p.cmd("SORT")
            .arg("ids")
            .arg("BY")
            .arg("w_*")
            .arg("STORE")
            .arg("sorted")
            .ignore();
        let _: () = p.query(&mut c).unwrap();
        snapshot(&mut c)
    };
    assert_eq!(before.2.len(), 12304, "5000 elements make a dense HLL");
    assert_eq!(before.4, ["2", "3", "1"]);
    d.kill_and_restart();
    let mut c = client(&d);
    assert_eq!(snapshot(&mut c), before);
    let dist: String = redis::cmd("GEODIST")
        .arg("Sicily")
        .arg("Palermo")
        .arg("Catania")
        .arg("km")
        .query(&mut c)
        .unwrap();
    assert_eq!(dist, "166.2742");
}

#[test]
fn redis_cli_reads_the_new_families() {
    let d = Dotdo::start("");
    let addr = d.addr("redis");
    let cli = |args: &[&str]| -> String {
        let out = Command::new("redis-cli")
            .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
            .args(args)
            .output()
            .expect("redis-cli is installed by the test command");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(cli(&["SETBIT", "b", "7", "1"]), "0");
    assert_eq!(cli(&["BITCOUNT", "b"]), "1");
    assert_eq!(cli(&["BITFIELD", "b", "INCRBY", "u8", "0", "1"]), "2");
    assert_eq!(cli(&["PFADD", "h", "x", "y", "z"]), "1");
    assert_eq!(cli(&["PFCOUNT", "h"]), "3");
    assert_eq!(
        cli(&["GEOADD", "g", "13.361389", "38.115556", "Palermo"]),
        "1"
    );
    assert_eq!(
        cli(&["GEOPOS", "g", "Palermo"]),
        "13.36138933897018433\n38.11555639549629859"
    );
    assert_eq!(cli(&["GEOHASH", "g", "Palermo"]), "sqc8b49rny0");
    assert_eq!(cli(&["RPUSH", "l", "b", "a"]), "2");
    assert_eq!(cli(&["SORT", "l", "ALPHA"]), "a\nb");
    assert_eq!(
        cli(&["PFADD", "b", "x"]),
        "WRONGTYPE Key is not a valid HyperLogLog string value."
    );
}
