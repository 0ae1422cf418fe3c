//! Store servers of a test's own, for tests that fill, freeze or stop a
//! store: doing that to the shared ones would disturb tests running in
//! parallel. Each is killed when its handle is dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::eventually;

/// A port nothing listens on now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A redis-server on `port` (no persistence), with `extra` arguments
/// (`--maxmemory 2mb`, say), once it answers.
pub async fn start_redis(port: u16, extra: &[&str]) -> anyhow::Result<Child> {
    let port_arg = port.to_string();
    let mut args = vec![
        "--bind",
        "127.0.0.1",
        "--port",
        &port_arg,
        "--save",
        "",
        "--appendonly",
        "no",
    ];
    args.extend_from_slice(extra);
    let child = Command::new("redis-server")
        .args(&args)
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let url = format!("redis://127.0.0.1:{port}/");
    eventually(Duration::from_secs(10), || async {
        let Ok(client) = redis::Client::open(url.as_str()) else {
            return Ok(None);
        };
        Ok(client
            .get_multiplexed_async_connection()
            .await
            .ok()
            .map(|_| ()))
    })
    .await?;
    Ok(child)
}

/// One command (`args`) sent to the Redis at `url`, its reply decoded.
pub async fn redis_command<T: redis::FromRedisValue>(
    url: &str,
    args: &[&str],
) -> anyhow::Result<T> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    Ok(cmd.query_async(&mut conn).await?)
}

/// A secantusd-rs (the MongoDB wire server) on `port` with its data in a
/// fresh directory under the system's temporary one, once it accepts
/// connections. Returns the process and the directory (removed by the
/// caller when it is done, or left for the OS).
pub async fn start_mongo(port: u16) -> anyhow::Result<(Child, PathBuf)> {
    let dir = std::env::temp_dir().join(format!("analytics-test-mongo-{port}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let child = Command::new("secantusd-rs")
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--storage-path")
        .arg(&dir)
        .args(["--cache-size", "64M", "--log-level", "ERROR"])
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    eventually(Duration::from_secs(30), || async {
        Ok(tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ()))
    })
    .await?;
    Ok((child, dir))
}
