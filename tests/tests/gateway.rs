//! The gateway binary: port report, admin endpoints, shutdown and start-up refusals.

use std::process::Command;

use dotdo_e2e::{Dotdo, dotdo_bin};

/// GET with curl, the real client; returns (status, body).
fn curl(url: &str, token: Option<&str>) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-w", "\n%{http_code}", url]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = cmd.output().expect("curl is installed by the test command");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_owned())
}

#[test]
fn admin_endpoints_answer_and_sigterm_shuts_down_cleanly() {
    let mut d = Dotdo::start("");
    let admin = d.addr("admin");
    assert_eq!(
        curl(&format!("http://{admin}/healthz"), None),
        (200, "ok\n".into())
    );
    assert_eq!(curl(&format!("http://{admin}/readyz"), None).0, 200);
    let (code, metrics) = curl(&format!("http://{admin}/metrics"), None);
    assert_eq!(code, 200);
    assert!(metrics.contains("dotdo_build_info"), "{metrics}");
    let (code, status) = curl(&format!("http://{admin}/"), None);
    assert_eq!(code, 200);
    assert!(
        status.contains("admin") && status.contains(&admin.to_string()),
        "{status}"
    );

    let exit = d.stop();
    assert!(exit.success(), "exit {exit:?}; log:\n{}", d.log());
    assert!(d.log().contains("shut down cleanly"), "{}", d.log());
}

#[test]
fn admin_token_guards_metrics_but_not_probes() {
    let d = Dotdo::start("[admin]\ntoken = \"s3cret\"\n");
    let admin = d.addr("admin");
    assert_eq!(curl(&format!("http://{admin}/healthz"), None).0, 200);
    assert_eq!(curl(&format!("http://{admin}/metrics"), None).0, 401);
    assert_eq!(
        curl(&format!("http://{admin}/metrics"), Some("wrong")).0,
        401
    );
    assert_eq!(
        curl(&format!("http://{admin}/metrics"), Some("s3cret")).0,
        200
    );
}

#[test]
fn public_listeners_without_auth_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(dotdo_bin())
        .args(["serve", "--set", "admin.listen=0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("admin.token"),
        "the refusal says how to configure auth: {err}"
    );
}

#[test]
fn check_config_validates_without_starting() {
    let ok = Command::new(dotdo_bin())
        .args(["check-config", "--set", "limits.max_connections=5"])
        .output()
        .unwrap();
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("max_connections = 5"));
    let bad = Command::new(dotdo_bin())
        .args(["check-config", "--set", "limits.max_conections=5"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("max_conections"));
    let env = Command::new(dotdo_bin())
        .args(["check-config", "--set", "limits.max_connections=9"])
        .env("DOTDO_LIMITS__MAX_CONNECTIONS", "8")
        .env("DOTDO_LIMITS__HANDSHAKE_TIMEOUT_MS", "1234")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&env.stdout);
    assert!(
        printed.contains("max_connections = 9") && printed.contains("handshake_timeout_ms = 1234"),
        "{printed}"
    );
}
