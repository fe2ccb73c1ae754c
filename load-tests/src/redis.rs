//! Real `redis-server` processes for tests and benchmarks: one server, or a three-node
//! cluster, on free loopback ports, each in its own directory, stopped on drop. A server
//! can be stopped and started again on the same port with its data (append-only file), or
//! frozen (SIGSTOP) to play a Redis that no longer answers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One running (or stopped) `redis-server`.
pub struct RedisServer {
    /// Where it listens.
    pub addr: SocketAddr,
    dir: PathBuf,
    child: Option<Child>,
    cluster: bool,
}

/// A Redis Cluster of three masters.
pub struct RedisCluster {
    /// Its nodes.
    pub nodes: Vec<RedisServer>,
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start() -> std::io::Result<RedisServer> {
        RedisServer::start_with(false)
    }

    fn start_with(cluster: bool) -> std::io::Result<RedisServer> {
        let dir = std::env::temp_dir().join(format!("vigie-redis-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir)?;
        let mut last = None;
        for _ in 0..5 {
            // The cluster bus listens on port + 10000.
            let port = free_port(if cluster { 55_000 } else { 65_535 })?;
            let mut server = RedisServer {
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                dir: dir.clone(),
                child: None,
                cluster,
            };
            match server.run() {
                Ok(()) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("redis-server did not start")))
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Stops the server (its data stays on disk).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "TERM");
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again, on the same port, with its data.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        self.run()
    }

    /// Freezes the process: connections stay open and nothing answers.
    pub fn freeze(&self) {
        if let Some(child) = &self.child {
            signal(child, "STOP");
        }
    }

    /// Undoes [`RedisServer::freeze`].
    pub fn thaw(&self) {
        if let Some(child) = &self.child {
            signal(child, "CONT");
        }
    }

    /// Runs one command (inline protocol) and returns the raw reply.
    pub fn command(&self, line: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(format!("{line}\r\n").as_bytes())?;
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    fn run(&mut self) -> std::io::Result<()> {
        let mut cmd = Command::new("redis-server");
        cmd.current_dir(&self.dir)
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &self.addr.port().to_string(),
            ])
            .args(["--dir", &self.dir.to_string_lossy()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.cluster {
            cmd.args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ]);
        }
        let mut child = cmd.spawn()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait()? {
                return Err(std::io::Error::other(format!(
                    "redis-server exited: {status}"
                )));
            }
            if self.command("PING").is_ok_and(|r| r.starts_with("+PONG")) {
                self.child = Some(child);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(std::io::Error::other(
            "redis-server did not answer within 10s",
        ))
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "CONT");
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(self.dir());
    }
}

impl RedisCluster {
    /// Starts three masters and joins them into one cluster (all slots covered).
    pub fn start() -> std::io::Result<RedisCluster> {
        let nodes = (0..3)
            .map(|_| RedisServer::start_with(true))
            .collect::<std::io::Result<Vec<_>>>()?;
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(nodes.iter().map(|n| n.addr.to_string()))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(std::io::Error::other(format!(
                "redis-cli --cluster create: {}",
                String::from_utf8_lossy(&out.stdout)
            )));
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ok = nodes.iter().all(|n| {
                n.command("CLUSTER INFO")
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            });
            if ok {
                return Ok(RedisCluster { nodes });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(std::io::Error::other(
            "the cluster did not become ready within 20s",
        ))
    }

    /// The nodes' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

/// A port free now on 127.0.0.1, below `below`.
fn free_port(below: u16) -> std::io::Result<u16> {
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if port < below {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no free port"))
}

fn signal(child: &Child, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status();
}
